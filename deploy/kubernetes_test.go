package deploy

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// manifests are the decoded objects of one kustomize build.
type manifests struct {
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	pdbs            []*policyv1.PodDisruptionBudget
	secrets         []*corev1.Secret
	serviceAccounts []*corev1.ServiceAccount
	serviceMonitors []*monitoringv1.ServiceMonitor
}

// decodeStrict decodes one object of a known kind strictly: an unknown or misspelt field, or
// a value of the wrong type, is an error.
func (m *manifests) decodeStrict(doc []byte) error {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	into := func(v any) error { return yaml.UnmarshalStrict(doc, v) }
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		o := &appsv1.Deployment{}
		m.deployments = append(m.deployments, o)
		return into(o)
	case "v1 Service":
		o := &corev1.Service{}
		m.services = append(m.services, o)
		return into(o)
	case "policy/v1 PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		m.pdbs = append(m.pdbs, o)
		return into(o)
	case "v1 Secret":
		o := &corev1.Secret{}
		m.secrets = append(m.secrets, o)
		return into(o)
	case "v1 ServiceAccount":
		o := &corev1.ServiceAccount{}
		m.serviceAccounts = append(m.serviceAccounts, o)
		return into(o)
	case "monitoring.coreos.com/v1 ServiceMonitor":
		o := &monitoringv1.ServiceMonitor{}
		m.serviceMonitors = append(m.serviceMonitors, o)
		return into(o)
	}
	return fmt.Errorf("%s %s: a kind this test does not decode; add it", tm.APIVersion, tm.Kind)
}

// testSecretFiles are the files the example overlay generates its Secrets from (gitignored:
// the operator writes them), with values the real cdcstreamd accepts.
var testSecretFiles = map[string]string{
	"neo4j-password": "not-a-real-password",
	"tokens.json":    `[{"name":"probe-test","token":"0123456789abcdef0123456789","databases":["*"]}]`,
}

// kustomizeBuild builds dir (relative to deploy/kubernetes) with kustomize's own library, on
// an in-memory copy of deploy/kubernetes plus the overlay's secret files, and decodes the
// result strictly.
func kustomizeBuild(t *testing.T, dir string) *manifests {
	t.Helper()
	src := filepath.Join(repoRoot, "deploy", "kubernetes")
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		return mem.WriteFile(path.Join("/k", filepath.ToSlash(rel)), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range testSecretFiles {
		if err := mem.WriteFile(path.Join("/k/overlays/example", name), []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, path.Join("/k", dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	m := &manifests{}
	for _, r := range rm.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		if err := m.decodeStrict(doc); err != nil {
			t.Errorf("kustomize build %s: %s %s: %v", dir, r.GetKind(), r.GetName(), err)
		}
	}
	return m
}

// TestKubernetesFilesDecodeStrictly decodes every manifest file as written (before kustomize
// touches it) into its Kubernetes type, rejecting unknown fields.
func TestKubernetesFilesDecodeStrictly(t *testing.T) {
	n := 0
	err := filepath.WalkDir(filepath.Join(repoRoot, "deploy", "kubernetes"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") || d.Name() == "kustomization.yaml" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		if err := (&manifests{}).decodeStrict(b); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 6 {
		t.Errorf("decoded %d manifest files, want the 6 of base and components", n)
	}
}

// TestKubernetesBase checks the base on its own: the Secrets it expects (and documents), and
// no ServiceMonitor (its CRD may be absent).
func TestKubernetesBase(t *testing.T) {
	m := kustomizeBuild(t, "base")
	if len(m.serviceMonitors) != 0 {
		t.Error("the base carries a ServiceMonitor; keep it in components/servicemonitor (its CRD may be absent)")
	}
	if len(m.secrets) != 0 {
		t.Error("the base carries a Secret; secrets come from the overlay or kubectl, never from git")
	}
	if len(m.deployments) != 1 {
		t.Fatalf("%d Deployments, want 1", len(m.deployments))
	}
	var names []string
	for _, v := range m.deployments[0].Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			names = append(names, v.Secret.SecretName)
		}
	}
	if strings.Join(names, ",") != "cdcstreamd-neo4j,cdcstreamd-tokens" {
		t.Errorf("the base mounts Secrets %v, want cdcstreamd-neo4j and cdcstreamd-tokens (as kustomization.yaml and docs/operations.md say)", names)
	}
}
