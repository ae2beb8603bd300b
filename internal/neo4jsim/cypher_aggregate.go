package neo4jsim

import "strings"

// Grouping and the aggregating functions count, collect, sum, min, max and avg. The items of
// a projection that are not aggregates are the grouping keys; with no grouping keys and no
// rows, the aggregates still give one row (count 0, collect [], sum 0, min/max/avg null).

// accumulator collects the values of one aggregate in one group.
type accumulator struct {
	f     funcExpr
	n     int64
	vals  []any
	seen  map[string]bool // DISTINCT
	sumI  int64
	sumF  float64
	float bool
	best  any
}

func (a *accumulator) add(v any) error {
	if a.f.star {
		a.n++
		return nil
	}
	if v == nil {
		return nil
	}
	if a.f.distinct {
		var b strings.Builder
		groupKey(&b, v)
		if a.seen[b.String()] {
			return nil
		}
		a.seen[b.String()] = true
	}
	a.n++
	switch a.f.name {
	case "collect":
		a.vals = append(a.vals, v)
	case "sum", "avg":
		switch t := v.(type) {
		case int64:
			if !a.float {
				s := a.sumI + t
				if (s > a.sumI) != (t > 0) {
					return arithmeticError("long overflow")
				}
				a.sumI = s
			}
			a.sumF += float64(t)
		case float64:
			a.float = true
			a.sumF += t
		default:
			return typeMismatch("%s() expects numbers, got %s", a.f.name, cypherType(v))
		}
	case "min", "max":
		if a.best == nil {
			a.best = v
			return nil
		}
		c := orderCompare(v, a.best)
		if a.f.name == "min" && c < 0 || a.f.name == "max" && c > 0 {
			a.best = v
		}
	}
	return nil
}

func (a *accumulator) result() any {
	switch a.f.name {
	case "count":
		return a.n
	case "collect":
		if a.vals == nil {
			return []any{}
		}
		return a.vals
	case "sum":
		if a.float {
			return a.sumF
		}
		return a.sumI
	case "avg":
		if a.n == 0 {
			return nil
		}
		return a.sumF / float64(a.n)
	case "min", "max":
		return a.best
	}
	return nil
}

// aggregate groups rows by the non-aggregate items and computes the aggregates per group;
// groups come out in order of first appearance.
func (x *execCtx) aggregate(items []projItem, rows []row) ([]row, error) {
	type group struct {
		out  row
		accs []*accumulator
	}
	var keyItems, aggItems []projItem
	for _, it := range items {
		if isAggregate(it.e) {
			aggItems = append(aggItems, it)
		} else {
			keyItems = append(keyItems, it)
		}
	}
	newGroup := func(out row) *group {
		g := &group{out: out}
		for _, it := range aggItems {
			g.accs = append(g.accs, &accumulator{f: it.e.(funcExpr), seen: map[string]bool{}})
		}
		return g
	}
	index := map[string]*group{}
	var order []*group
	for _, r := range rows {
		out := make(row, len(items))
		var b strings.Builder
		for _, it := range keyItems {
			v, err := x.eval(it.e, r)
			if err != nil {
				return nil, err
			}
			out[it.name] = v
			groupKey(&b, v)
		}
		g := index[b.String()]
		if g == nil {
			g = newGroup(out)
			index[b.String()] = g
			order = append(order, g)
		}
		for i, it := range aggItems {
			f := it.e.(funcExpr)
			var v any
			if !f.star {
				var err error
				if v, err = x.eval(f.args[0], r); err != nil {
					return nil, err
				}
			}
			if err := g.accs[i].add(v); err != nil {
				return nil, err
			}
		}
	}
	if len(order) == 0 && len(keyItems) == 0 {
		order = append(order, newGroup(row{}))
	}
	out := make([]row, len(order))
	for i, g := range order {
		for j, it := range aggItems {
			g.out[it.name] = g.accs[j].result()
		}
		out[i] = g.out
	}
	return out, nil
}
