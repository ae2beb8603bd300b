package neo4jsim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Workload generates a deterministic stream of write transactions on a small Person/Company
// graph: key constraints Person(id), Company(name) and WORKS_AT(contractId); KNOWS and
// WORKS_AT relationships; properties of every storable type; transaction metadata;
// multi-change transactions; label changes, property removal and (detach) deletes. Two
// workloads with the same seed on equal databases produce equal transactions. A Workload is
// not safe for concurrent use.
type Workload struct {
	db       *Database
	rng      *rand.Rand
	opts     workloadOptions
	persons  []string // element ids of live Person nodes, in creation order
	cos      []string // element ids of live Company nodes
	rels     []string // element ids of live relationships
	nextID   int64
	nextCo   int64
	contract int64
	steps    int64
}

type workloadOptions struct {
	session  Session
	maxNodes int
}

// WorkloadOption configures a Workload.
type WorkloadOption func(*workloadOptions)

// WithUser sets the authenticated (and executing) user of the generated transactions.
func WithUser(name string) WorkloadOption {
	return func(o *workloadOptions) { o.session.User = name }
}

// WithTxMetadata sets extra transaction metadata; the workload adds its own "op" entry.
func WithTxMetadata(md map[string]any) WorkloadOption {
	return func(o *workloadOptions) { o.session.TxMetadata = cloneMap(md) }
}

// WithSession sets every connection field of the generated transactions' metadata.
func WithSession(s Session) WorkloadOption {
	return func(o *workloadOptions) { o.session = s; o.session.TxMetadata = cloneMap(s.TxMetadata) }
}

// WithMaxNodes bounds the graph size the workload aims for (default 200): above it, deletes
// become likelier than creates.
func WithMaxNodes(n int) WorkloadOption {
	return func(o *workloadOptions) { o.maxNodes = max(n, 4) }
}

// NewWorkload returns a workload writing to db, deterministic from seed. It creates the
// key constraints it needs if they do not exist yet.
func NewWorkload(db *Database, seed int64, opts ...WorkloadOption) *Workload {
	o := workloadOptions{session: Session{User: "neo4j", ClientAddr: "127.0.0.1:50000", ServerAddr: "127.0.0.1:7687"}, maxNodes: 200}
	for _, opt := range opts {
		opt(&o)
	}
	w := &Workload{db: db, rng: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)), opts: o}
	for _, k := range []struct {
		rel  bool
		t, p string
	}{{false, "Person", "id"}, {false, "Company", "name"}, {true, "WORKS_AT", "contractId"}} {
		_ = db.createKey(k.rel, false, k.t, []string{k.p}) // an equivalent existing constraint is fine
	}
	return w
}

// Run commits transactions at about rate per second until ctx is done, then returns nil; it
// returns the first error of a step. A rate <= 0 runs as fast as possible.
func (w *Workload) Run(ctx context.Context, rate float64) error {
	var tick <-chan time.Time // paces the steps; nil when unpaced
	if d := time.Duration(float64(time.Second) / rate); rate > 0 && d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		tick = t.C
	}
	for {
		if tick != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-tick:
			}
		} else if ctx.Err() != nil {
			return nil
		}
		if _, err := w.Step(); err != nil {
			return err
		}
	}
}

// Step commits one transaction of one to four changes and returns its id (0 if its net
// effect was empty).
func (w *Workload) Step() (int64, error) {
	w.steps++
	s := w.opts.session
	md := cloneMap(s.TxMetadata)
	if md == nil {
		md = map[string]any{}
	}
	md["app"] = "neo4jsim-workload"
	md["step"] = w.steps
	s.TxMetadata = md
	n := 1
	if w.rng.IntN(3) == 0 {
		n = 2 + w.rng.IntN(3)
	}
	var created, deleted []string
	txID, err := w.db.Write(s, func(tx *Tx) error {
		created, deleted = created[:0], deleted[:0]
		for range n {
			c, d, err := w.op(tx)
			if err != nil {
				return err
			}
			created = append(created, c...)
			deleted = append(deleted, d...)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("workload step %d: %w", w.steps, err)
	}
	w.track(created, deleted)
	return txID, nil
}

// track updates the live-id lists after a commit. Ids created in the transaction that it also
// deleted are dropped.
func (w *Workload) track(created, deleted []string) {
	for _, id := range created {
		switch {
		case slices.Contains(deleted, id):
		case id[0] == '5':
			w.rels = append(w.rels, id)
		case w.isCompanyID(id):
			w.cos = append(w.cos, id)
		default:
			w.persons = append(w.persons, id)
		}
	}
	gone := func(id string) bool { return slices.Contains(deleted, id) }
	w.persons = slices.DeleteFunc(w.persons, gone)
	w.cos = slices.DeleteFunc(w.cos, gone)
	w.rels = slices.DeleteFunc(w.rels, gone)
}

func (w *Workload) isCompanyID(id string) bool {
	g := w.db
	g.mu.RLock()
	defer g.mu.RUnlock()
	n, ok := g.parseElementID(id, '4')
	if !ok {
		return false
	}
	st, ok := g.nodes[n]
	return ok && slices.Contains(st.labels, "Company")
}

// live returns the ids in ids that are still live in tx (another writer may have deleted
// some).
func live(tx *Tx, ids []string) []string {
	return slices.DeleteFunc(slices.Clone(ids), func(id string) bool {
		if id[0] == '5' {
			return !tx.RelationshipExists(id)
		}
		return !tx.NodeExists(id)
	})
}

func (w *Workload) pick(ids []string) string {
	return ids[w.rng.IntN(len(ids))]
}

// op performs one random change and reports the ids it created and deleted.
func (w *Workload) op(tx *Tx) (created, deleted []string, err error) {
	persons, cos, rels := live(tx, w.persons), live(tx, w.cos), live(tx, w.rels)
	total := len(persons) + len(cos)
	r := w.rng.IntN(100)
	if total > w.opts.maxNodes && r < 40 {
		r = 90 // too big: delete
	}
	switch {
	case r < 18 || len(persons) < 2:
		id, err := tx.CreateNode(w.personLabels(), w.personProps())
		return []string{id}, nil, err
	case r < 24 || len(cos) == 0:
		w.nextCo++
		id, err := tx.CreateNode([]string{"Company"}, map[string]any{
			"name": fmt.Sprintf("Company-%d", w.nextCo), "founded": Date{EpochDays: int64(w.rng.IntN(20000))},
			"hq": Point2D{SRID: 4326, X: w.rng.Float64()*360 - 180, Y: w.rng.Float64()*180 - 90}})
		return []string{id}, nil, err
	case r < 36:
		a, b := w.pick(persons), w.pick(persons)
		id, err := tx.CreateRelationship("KNOWS", a, b, map[string]any{
			"since": w.dateTime(), "weight": w.rng.Float64()})
		return []string{id}, nil, err
	case r < 44:
		w.contract++
		id, err := tx.CreateRelationship("WORKS_AT", w.pick(persons), w.pick(cos), map[string]any{
			"contractId": w.contract, "role": w.pick([]string{"engineer", "manager", "sales"}), "hours": int64(20 + w.rng.IntN(21))})
		return []string{id}, nil, err
	case r < 64:
		return nil, nil, w.updatePerson(tx, w.pick(persons))
	case r < 70:
		p := w.pick(persons)
		if w.rng.IntN(2) == 0 {
			return nil, nil, tx.AddLabels(p, w.pick([]string{"Employee", "Vip", "Retired"}))
		}
		return nil, nil, tx.RemoveLabels(p, "Employee", "Vip")
	case r < 76 && len(rels) > 0:
		rel := w.pick(rels)
		if w.rng.IntN(3) == 0 {
			return nil, nil, tx.RemoveRelationshipProperty(rel, "weight")
		}
		if err := tx.SetRelationshipProperty(rel, "note", w.word()); err != nil {
			return nil, nil, err
		}
		return nil, nil, tx.SetRelationshipProperty(rel, "weight", w.rng.Float64())
	case r < 82:
		c := w.pick(cos)
		return nil, nil, tx.SetNodeProperty(c, "employees", int64(w.rng.IntN(100000)))
	case r < 90 && len(rels) > 0:
		rel := w.pick(rels)
		return nil, []string{rel}, tx.DeleteRelationship(rel)
	default:
		var pool []string
		if len(persons) > 2 {
			pool = persons
		}
		if len(cos) > 1 && (pool == nil || w.rng.IntN(5) == 0) {
			pool = cos
		}
		if pool == nil {
			id, err := tx.CreateNode(w.personLabels(), w.personProps())
			return []string{id}, nil, err
		}
		n := w.pick(pool)
		before := rels
		if err := tx.DeleteNode(n, true); err != nil {
			return nil, nil, err
		}
		deleted = []string{n}
		for _, rel := range before {
			if !tx.RelationshipExists(rel) {
				deleted = append(deleted, rel)
			}
		}
		return nil, deleted, nil
	}
}

func (w *Workload) personLabels() []string {
	if w.rng.IntN(4) == 0 {
		return []string{"Person", "Employee"}
	}
	return []string{"Person"}
}

func (w *Workload) word() string {
	words := []string{"alpha", "beta", "gamma", "delta", "Ωmega", "naïve", "日本", ""}
	return words[w.rng.IntN(len(words))]
}

func (w *Workload) dateTime() DateTime {
	sec := int64(1_500_000_000 + w.rng.IntN(300_000_000))
	ns := int64(w.rng.IntN(1e9))
	if w.rng.IntN(2) == 0 {
		return DateTime{EpochSeconds: sec, Nanos: ns, OffsetSeconds: int64(w.rng.IntN(57)-28) * 1800}
	}
	return DateTime{EpochSeconds: sec, Nanos: ns, ZoneID: w.pick([]string{"Europe/Stockholm", "America/New_York", "Asia/Tokyo", "UTC"})}
}

// personProps returns a Person's properties: one of every storable type.
func (w *Workload) personProps() map[string]any {
	w.nextID++
	r := w.rng
	return map[string]any{
		"id":       w.nextID,
		"name":     w.word() + fmt.Sprint(w.nextID),
		"active":   r.IntN(2) == 0,
		"big":      int64(1)<<53 + int64(r.Uint64()>>12), // beyond 2^53: JSON doubles lose it
		"min":      int64(math.MinInt64),
		"score":    r.NormFloat64() * 100,
		"avatar":   []byte{byte(r.IntN(256)), 0, 0xff, byte(r.IntN(256))},
		"tags":     []any{w.word(), w.word()},
		"ratings":  []any{r.Int64(), -r.Int64()},
		"ratios":   []any{r.Float64(), 0.5},
		"flags":    []any{true, false},
		"born":     Date{EpochDays: int64(r.IntN(40000) - 20000)},
		"alarm":    LocalTime{NanosOfDay: int64(r.IntN(86400)) * 1e9},
		"meeting":  Time{NanosOfDay: int64(r.IntN(86400e3)) * 1e6, OffsetSeconds: 3600},
		"local":    LocalDateTime{EpochSeconds: int64(r.IntN(2e9)), Nanos: int64(r.IntN(1e9))},
		"seen":     w.dateTime(),
		"tenure":   Duration{Months: int64(r.IntN(30)), Days: int64(r.IntN(40)), Seconds: int64(r.IntN(86400)), Nanos: int64(r.IntN(1e9))},
		"home":     Point2D{SRID: 7203, X: r.Float64() * 100, Y: r.Float64() * 100},
		"position": Point3D{SRID: 4979, X: r.Float64()*360 - 180, Y: r.Float64()*180 - 90, Z: r.Float64() * 1000},
		"dates":    []any{Date{EpochDays: 1}, Date{EpochDays: 2}},
	}
}

// updatePerson changes, adds or removes a few non-key properties.
func (w *Workload) updatePerson(tx *Tx, p string) error {
	_, props, ok := tx.NodeProperties(p)
	if !ok {
		return errors.New("workload: person vanished")
	}
	fresh := w.personProps()
	w.nextID-- // personProps consumed an id it did not use
	keys := slices.Sorted(maps.Keys(fresh))
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == "id" })
	for range 1 + w.rng.IntN(3) {
		k := w.pick(keys)
		var err error
		switch {
		case w.rng.IntN(4) == 0:
			err = tx.RemoveNodeProperty(p, k)
		case w.rng.IntN(5) == 0 && props[k] != nil:
			err = tx.SetNodeProperty(p, k, props[k]) // no-op update: must produce no record
		default:
			err = tx.SetNodeProperty(p, k, fresh[k])
		}
		if err != nil {
			return err
		}
	}
	return nil
}
