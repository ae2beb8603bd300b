package deploy

import (
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"golang.org/x/mod/modfile"
	"sigs.k8s.io/yaml"
)

// promParser is Prometheus' PromQL parser with its default options.
var promParser = parser.NewParser(parser.Options{})

var monitoringDir = filepath.Join(repoRoot, "deploy", "monitoring")

const (
	rulesFile     = "cdcstream-rules.yaml"
	rulesTestFile = "cdcstream-rules.test.yaml"
	dashboardFile = "grafana-dashboard.json"
)

var (
	promtoolOnce sync.Once
	promtoolBin  string
	promtoolErr  error
)

// promtool returns Prometheus' promtool at the version pinned in deploy/go.mod (a tool of
// this module): $CDCSTREAM_PROMTOOL (make test-deploy builds bin/promtool first), else built
// here once per test binary. A real binary, not `go tool promtool`, whose exit status hides a
// killed child.
func promtool(t *testing.T) string {
	t.Helper()
	promtoolOnce.Do(func() {
		if p := os.Getenv("CDCSTREAM_PROMTOOL"); p != "" {
			promtoolBin = p
			return
		}
		bin := filepath.Join(scratch, "promtool")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/prometheus/prometheus/cmd/promtool")
		out, err := cmd.CombinedOutput()
		if err != nil {
			promtoolErr = fmt.Errorf("go build promtool: %v\n%s", err, out)
		}
		promtoolBin = bin
	})
	if promtoolErr != nil {
		t.Fatal(promtoolErr)
	}
	// A stale binary would test the rules against another Prometheus than the pinned one.
	mf, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.ParseLax("go.mod", mf, nil)
	if err != nil {
		t.Fatal(err)
	}
	bi, err := buildinfo.ReadFile(promtoolBin)
	if err != nil {
		t.Fatalf("%s: %v", promtoolBin, err)
	}
	var pinned, built string
	for _, r := range f.Require {
		if r.Mod.Path == prometheusModule {
			pinned = r.Mod.Version
		}
	}
	for _, d := range append(bi.Deps, &bi.Main) {
		if d.Path == prometheusModule {
			built = d.Version
		}
	}
	if pinned == "" || built != pinned {
		t.Fatalf("%s is Prometheus %q, deploy/go.mod pins %q: rebuild it (make bin/promtool)", promtoolBin, built, pinned)
	}
	return promtoolBin
}

// prometheusModule is the module promtool comes from.
const prometheusModule = "github.com/prometheus/prometheus"

// TestAlertRulesPromtool runs `promtool check rules` (syntax, PromQL, templates) and
// `promtool test rules` (the unit tests of cdcstream-rules.test.yaml: each alert fires on the
// series it is about, at the time its `for` allows, and not on the healthy ones).
func TestAlertRulesPromtool(t *testing.T) {
	bin := promtool(t)
	run(t, monitoringDir, nil, bin, "check", "rules", rulesFile)
	run(t, monitoringDir, nil, bin, "test", "rules", rulesTestFile)
}

// TestAlertRulesAllTested checks that every alert has a unit test case in which it fires.
func TestAlertRulesAllTested(t *testing.T) {
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string           `json:"alertname"`
				ExpAlerts []map[string]any `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	b, err := os.ReadFile(filepath.Join(monitoringDir, rulesTestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &tests); err != nil {
		t.Fatal(err)
	}
	fires := map[string]bool{}
	for _, g := range tests.Tests {
		for _, a := range g.AlertRuleTest {
			fires[a.Alertname] = fires[a.Alertname] || len(a.ExpAlerts) > 0
		}
	}
	for _, r := range loadRules(t) {
		if r.Alert != "" && !fires[r.Alert] {
			t.Errorf("alert %s has no test case in %s in which it fires", r.Alert, rulesTestFile)
		}
	}
}

// loadRules parses the rules file with Prometheus' own rule parser.
func loadRules(t *testing.T) []rulefmt.Rule {
	t.Helper()
	groups, errs := rulefmt.ParseFile(filepath.Join(monitoringDir, rulesFile), false, model.UTF8Validation, promParser, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("%s: %v", rulesFile, errs)
	}
	var rules []rulefmt.Rule
	for _, g := range groups.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// panel is one dashboard panel.
type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) *dashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(monitoringDir, dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	d := &dashboard{}
	if err := json.Unmarshal(b, d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// grafanaVars are the dashboard variables, replaced by values PromQL accepts before parsing.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$database", ".*")

// TestDashboard checks the dashboard's structure (unique panel ids, panels inside the
// 24-column grid and not overlapping, every query on the ${datasource} variable) and that
// every query is valid PromQL.
func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("dashboard uid %q, title %q, schemaVersion %d: all required", d.UID, d.Title, d.SchemaVersion)
	}
	ids := map[int]bool{}
	type cell struct{ x, y int }
	used := map[cell]string{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := used[cell{x, y}]; ok {
					t.Errorf("panels %q and %q overlap at %d,%d", other, p.Title, x, y)
				}
				used[cell{x, y}] = p.Title
			}
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: want targets on the ${datasource} variable", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			if _, err := promParser.ParseExpr(grafanaVars.Replace(tg.Expr)); err != nil {
				t.Errorf("panel %q target %s: %v\n%s", p.Title, tg.RefID, err, tg.Expr)
			}
		}
	}
	if queries < 10 {
		t.Errorf("%d queries: the dashboard lost its panels?", queries)
	}
}

// use is one place a metric is queried, with the labels the query relies on it having.
type use struct {
	where  string
	labels []string
}

// targetLabels are added by Prometheus to every scraped series; le is a histogram bucket's.
var targetLabels = map[string]bool{"instance": true, "job": true, "le": true}

// usedMetrics returns each metric name the rules and the dashboard query, with where and the
// labels they select on or group by.
func usedMetrics(t *testing.T) map[string][]use {
	t.Helper()
	used := map[string][]use{}
	selectorName := func(vs *parser.VectorSelector) string {
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel {
				return m.Value
			}
		}
		return vs.Name
	}
	add := func(where, expr string) {
		e, err := promParser.ParseExpr(grafanaVars.Replace(expr))
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			switch n := n.(type) {
			case *parser.VectorSelector:
				u := use{where: where}
				for _, m := range n.LabelMatchers {
					if m.Name != model.MetricNameLabel {
						u.labels = append(u.labels, m.Name)
					}
				}
				used[selectorName(n)] = append(used[selectorName(n)], u)
			case *parser.AggregateExpr:
				// Grouping labels belong to the aggregated metric when there is only one.
				names := map[string]bool{}
				parser.Inspect(n.Expr, func(in parser.Node, _ []parser.Node) error {
					if vs, ok := in.(*parser.VectorSelector); ok {
						names[selectorName(vs)] = true
					}
					return nil
				})
				if len(names) == 1 && !n.Without {
					for name := range names {
						used[name] = append(used[name], use{where: where + " (by)", labels: n.Grouping})
					}
				}
			}
			return nil
		})
	}
	for _, r := range loadRules(t) {
		add(rulesFile+" "+r.Alert+r.Record, r.Expr)
	}
	d := loadDashboard(t)
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			add(dashboardFile+" "+p.Title, tg.Expr)
		}
	}
	labelValues := regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)`)
	for _, v := range d.Templating.List {
		q, _ := json.Marshal(v.Query)
		for _, m := range labelValues.FindAllStringSubmatch(string(q), -1) {
			used[m[1]] = append(used[m[1]], use{where: dashboardFile + " variable " + v.Name, labels: []string{m[2]}})
		}
	}
	return used
}

// TestMonitoredMetricsExist checks every metric name of the rules and the dashboard, and every
// label they select on or group by, against what a real cdcstreamd exposes: the image's
// cdcstreamd --demo with a consumer (cdctail, from the image too) following a database, and
// one asking for a database that does not exist (so that the error counter has a series).
// Names Prometheus makes itself (up) and the rules' own recording rules are the only others
// allowed.
func TestMonitoredMetricsExist(t *testing.T) {
	used := usedMetrics(t)
	allowed := map[string]bool{"up": true}
	for _, r := range loadRules(t) {
		if r.Record != "" {
			allowed[r.Record] = true
		}
	}
	img := buildImage(t)
	d := startAsImage(t, img.binaries[wantBinaries[0]], "--demo", "--demo-rate=20", "--listen=127.0.0.1:0", "--metrics-listen=127.0.0.1:0")
	waitServing(t, d.addr, "cdcstream.v1.ChangeStreamService")
	tail := img.binaries["/usr/local/bin/cdctail"]
	for _, args := range [][]string{
		{"--address", d.addr, "--earliest", "--checkpoints", "--checkpoint-interval=1s"},
		{"--address", d.addr, "--earliest", "--database", "nosuchdb", "--max-retries=1"},
	} {
		cmd := exec.Command(tail, args...)
		cmd.Env = []string{}
		cmd.SysProcAttr = unprivilegedAttr()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}

	// Scrape until every used name has appeared (a vector's series exists once observed).
	var missing []string
	exposed := map[string]map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		for name, labels := range scrape(t, d.metricsURL) {
			if exposed[name] == nil {
				exposed[name] = map[string]bool{}
			}
			for l := range labels {
				exposed[name][l] = true
			}
		}
		missing = missing[:0]
		for name := range used {
			if !allowed[name] && exposed[familyOf(name, exposed)] == nil {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	sort.Strings(missing)
	for _, name := range missing {
		var where []string
		for _, u := range used[name] {
			where = append(where, u.where)
		}
		t.Errorf("%s is not exposed by cdcstreamd (used by %s)", name, strings.Join(slices.Compact(where), "; "))
	}
	for name, uses := range used {
		have := exposed[familyOf(name, exposed)]
		if allowed[name] || have == nil {
			continue
		}
		for _, u := range uses {
			for _, l := range u.labels {
				if !have[l] && !targetLabels[l] {
					t.Errorf("%s: %s has no label %q (it has %v)", u.where, name, l, have)
				}
			}
		}
	}
	if len(exposed) < 20 {
		t.Errorf("the scrape exposed only %d families", len(exposed))
	}
}

// familyOf maps a histogram's or summary's series name to its family name.
func familyOf(name string, exposed map[string]map[string]bool) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && exposed[base] != nil {
			return base
		}
	}
	return name
}

// scrape reads /metrics in the text exposition format, as Prometheus does, and returns each
// family that has series with the label names of its series.
func scrape(t *testing.T, url string) map[string]map[string]bool {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	tp := expfmt.NewTextParser(model.UTF8Validation)
	families, err := tp.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	names := map[string]map[string]bool{}
	for name, f := range families {
		if len(f.GetMetric()) == 0 {
			continue
		}
		names[name] = map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				names[name][lp.GetName()] = true
			}
		}
	}
	return names
}
