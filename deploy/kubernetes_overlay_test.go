package deploy

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestKubernetesExampleOverlay checks the cross-references of the full example overlay (base,
// ServiceMonitor component, generated Secrets) as kustomize builds it.
func TestKubernetesExampleOverlay(t *testing.T) {
	m := kustomizeBuild(t, "overlays/example")
	if len(m.deployments) != 1 || len(m.pdbs) != 1 || len(m.services) != 2 || len(m.serviceMonitors) != 1 || len(m.secrets) != 2 || len(m.serviceAccounts) != 1 {
		t.Fatalf("objects: %d Deployments, %d PDBs, %d Services, %d ServiceMonitors, %d Secrets, %d ServiceAccounts; want 1, 1, 2, 1, 2, 1",
			len(m.deployments), len(m.pdbs), len(m.services), len(m.serviceMonitors), len(m.secrets), len(m.serviceAccounts))
	}
	dep := m.deployments[0]
	pod := dep.Spec.Template
	podLabels := labels.Set(pod.Labels)
	sel, err := metav1LabelSelector(dep.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("Deployment selector %v does not match its pod labels %v (%v)", dep.Spec.Selector, pod.Labels, err)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}

	t.Run("probes", func(t *testing.T) {
		for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			if p == nil || p.GRPC == nil {
				t.Errorf("%s probe: want a grpc probe on the health service, got %+v", name, p)
				continue
			}
			if p.GRPC.Port != ports["grpc"] {
				t.Errorf("%s probe port %d is not the container's grpc port %d", name, p.GRPC.Port, ports["grpc"])
			}
		}
		if c.ReadinessProbe != nil && c.ReadinessProbe.GRPC != nil {
			if s := c.ReadinessProbe.GRPC.Service; s == nil || *s != "cdcstream.v1.ChangeStreamService" {
				t.Errorf("readiness probe service %v, want cdcstream.v1.ChangeStreamService", s)
			}
		}
	})

	t.Run("services", func(t *testing.T) {
		headless := 0
		for _, s := range m.services {
			if !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) || len(s.Spec.Selector) == 0 {
				t.Errorf("Service %s selector %v does not select the pods %v", s.Name, s.Spec.Selector, pod.Labels)
			}
			if s.Spec.ClusterIP == corev1.ClusterIPNone {
				headless++
			}
			for _, p := range s.Spec.Ports {
				if p.TargetPort.Type != intstr.String || ports[p.TargetPort.StrVal] == 0 {
					t.Errorf("Service %s port %s targets %v: want the name of a container port (%v)", s.Name, p.Name, p.TargetPort.String(), ports)
				}
			}
		}
		if headless != 1 {
			t.Errorf("%d headless Services, want 1 (client-side load balancing) next to a regular one", headless)
		}
	})

	t.Run("pdb", func(t *testing.T) {
		pdb := m.pdbs[0]
		sel, err := metav1LabelSelector(pdb.Spec.Selector)
		if err != nil || !sel.Matches(podLabels) {
			t.Errorf("PodDisruptionBudget selector %v does not select the pods (%v)", pdb.Spec.Selector, err)
		}
		if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
			t.Error("PodDisruptionBudget sets neither maxUnavailable nor minAvailable")
		}
	})

	t.Run("servicemonitor", func(t *testing.T) {
		sm := m.serviceMonitors[0]
		sel, err := metav1LabelSelector(&sm.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range sm.Spec.Endpoints {
			found := false
			for _, s := range m.services {
				if !sel.Matches(labels.Set(s.Labels)) {
					continue
				}
				for _, p := range s.Spec.Ports {
					found = found || p.Name == e.Port
				}
			}
			if !found {
				t.Errorf("ServiceMonitor endpoint port %q is on no Service it selects", e.Port)
			}
		}
	})

	t.Run("secrets and files", func(t *testing.T) {
		secrets := map[string]*corev1.Secret{}
		for _, s := range m.secrets {
			secrets[s.Name] = s
		}
		volumes := map[string]corev1.Volume{}
		for _, v := range pod.Spec.Volumes {
			volumes[v.Name] = v
			if v.Secret == nil {
				continue
			}
			s := secrets[v.Secret.SecretName]
			if s == nil {
				t.Errorf("volume %s mounts Secret %s, which the overlay does not create", v.Name, v.Secret.SecretName)
				continue
			}
			for _, it := range v.Secret.Items {
				if _, ok := s.Data[it.Key]; !ok {
					t.Errorf("volume %s: Secret %s has no key %s", v.Name, s.Name, it.Key)
				}
			}
		}
		for _, f := range filesOf(t, c) {
			if mountedFile(c, volumes, f) == "" {
				t.Errorf("cdcstreamd reads %s, which no Secret volume item provides", f)
			}
		}
		if sa := pod.Spec.ServiceAccountName; sa != m.serviceAccounts[0].Name {
			t.Errorf("serviceAccountName %q, want %q", sa, m.serviceAccounts[0].Name)
		}
	})

	t.Run("security", func(t *testing.T) {
		psc, sc := pod.Spec.SecurityContext, c.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != unprivileged {
			t.Errorf("pod securityContext %+v: want runAsNonRoot and runAsUser %d (the image's USER)", psc, unprivileged)
		}
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
			t.Errorf("container securityContext %+v: want readOnlyRootFilesystem, no privilege escalation, all capabilities dropped", sc)
		}
	})

	t.Run("termination", func(t *testing.T) {
		grace := flagValue(c.Args, "shutdown-grace")
		d, err := time.ParseDuration(grace)
		if err != nil {
			t.Fatalf("--shutdown-grace %q in args: %v (set it explicitly, the grace period depends on it)", grace, err)
		}
		var preStop time.Duration
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
		tgps := pod.Spec.TerminationGracePeriodSeconds
		if tgps == nil {
			t.Fatal("no terminationGracePeriodSeconds: the default 30s does not follow --shutdown-grace")
		}
		if time.Duration(*tgps)*time.Second < preStop+d+5*time.Second {
			t.Errorf("terminationGracePeriodSeconds %d: want at least preStop %v + --shutdown-grace %v + 5s", *tgps, preStop, d)
		}
	})

	t.Run("resources", func(t *testing.T) {
		r := c.Resources
		if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() || r.Limits.Memory().IsZero() {
			t.Errorf("resources %+v: want cpu and memory requests and a memory limit", r)
		}
		if r.Limits.Memory().Cmp(*r.Requests.Memory()) < 0 {
			t.Errorf("memory limit %v below the request %v", r.Limits.Memory(), r.Requests.Memory())
		}
	})

	t.Run("flags are cdcstreamd's", func(t *testing.T) {
		flags, envs := cdcstreamdFlags(t)
		for _, a := range c.Args {
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if !strings.HasPrefix(a, "--") || !flags[name] {
				t.Errorf("arg %q: not a cdcstreamd flag (cdcstreamd -h lists %d)", a, len(flags))
			}
		}
		for _, e := range c.Env {
			if !envs[e.Name] && e.Name != "GOMEMLIMIT" {
				t.Errorf("env %s: cdcstreamd -h names no such variable", e.Name)
			}
		}
	})

	t.Run("cdcstreamd accepts the configuration and is ready", func(t *testing.T) {
		serveAsManifest(t, c, volumes(pod.Spec.Volumes), m.secrets)
	})
}

// metav1LabelSelector converts a LabelSelector for matching.
func metav1LabelSelector(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return nil, fmt.Errorf("no selector")
	}
	return metav1.LabelSelectorAsSelector(s)
}

func volumes(vs []corev1.Volume) map[string]corev1.Volume {
	out := map[string]corev1.Volume{}
	for _, v := range vs {
		out[v.Name] = v
	}
	return out
}

// filesOf are the files the container's configuration names: --*-file flags and *_FILE
// variables.
func filesOf(t *testing.T, c corev1.Container) []string {
	t.Helper()
	var files []string
	for _, a := range c.Args {
		if name, v, ok := strings.Cut(strings.TrimLeft(a, "-"), "="); ok && strings.HasSuffix(name, "-file") {
			files = append(files, v)
		}
	}
	for _, e := range c.Env {
		if strings.HasSuffix(e.Name, "_FILE") {
			files = append(files, e.Value)
		}
	}
	if len(files) < 2 {
		t.Errorf("the container names %v: want the Neo4j password file and the tokens file", files)
	}
	return files
}

// mountedFile returns "volume/key" when file is a Secret item mounted in c, else "".
func mountedFile(c corev1.Container, vols map[string]corev1.Volume, file string) string {
	for _, vm := range c.VolumeMounts {
		v, ok := vols[vm.Name]
		if !ok || v.Secret == nil {
			continue
		}
		for _, it := range v.Secret.Items {
			if path.Join(vm.MountPath, it.Path) == file {
				return vm.Name + "/" + it.Key
			}
		}
	}
	return ""
}

// flagValue is the value of --name=value in args.
func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

var (
	// helpFlagRE matches a flag line of Go's flag package usage: "  -name type".
	helpFlagRE = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)
	// helpEnvRE matches an environment variable name in the help text.
	helpEnvRE = regexp.MustCompile(`\b((?:NEO4J|CDCSTREAM|OTEL)_[A-Z0-9_]+)\b`)
)

// cdcstreamdFlags asks the image's cdcstreamd for its flags and the environment variables
// its help text names.
func cdcstreamdFlags(t *testing.T) (flags, envs map[string]bool) {
	t.Helper()
	img := buildImage(t)
	out, _ := runEmpty(img.binaries[wantBinaries[0]], "-h")
	flags, envs = map[string]bool{}, map[string]bool{}
	for _, m := range helpFlagRE.FindAllStringSubmatch(out, -1) {
		flags[m[1]] = true
	}
	// "(env X)" after each flag, and in the prose: "read only from NEO4J_PASSWORD or ...".
	for _, m := range helpEnvRE.FindAllStringSubmatch(out, -1) {
		envs[m[1]] = true
	}
	if !flags["listen"] || !flags["shutdown-grace"] || !envs["NEO4J_URI"] {
		t.Fatalf("could not read the flags from cdcstreamd -h:\n%s", out)
	}
	return flags, envs
}

// serveAsManifest starts the image's cdcstreamd with the container's args and environment,
// its Secret files written under a scratch directory as the kubelet would mount them, on the
// embedded simulator (--demo) and loopback ports, and checks that both probes would pass.
func serveAsManifest(t *testing.T, c corev1.Container, vols map[string]corev1.Volume, secrets []*corev1.Secret) {
	img := buildImage(t)
	mounts, err := os.MkdirTemp(scratch, "mounts-")
	if err == nil {
		err = os.Chmod(mounts, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*corev1.Secret{}
	for _, s := range secrets {
		byName[s.Name] = s
	}
	remap := func(file string) string {
		mf := mountedFile(c, vols, file)
		vol, key, _ := strings.Cut(mf, "/")
		host := filepath.Join(mounts, filepath.FromSlash(file))
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			t.Fatal(err)
		}
		data := byName[vols[vol].Secret.SecretName].Data[key]
		if err := os.WriteFile(host, data, 0o444); err != nil {
			t.Fatal(err)
		}
		return host
	}
	args := []string{"--demo"}
	for _, a := range c.Args {
		name, v, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case name == "listen" || name == "metrics-listen":
			v = "127.0.0.1:0"
		case strings.HasSuffix(name, "-file"):
			v = remap(v)
		}
		args = append(args, "--"+name+"="+v)
	}
	var env []string
	for _, e := range c.Env {
		v := e.Value
		switch {
		case e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil:
			q := c.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(e.ValueFrom.ResourceFieldRef.Resource, "limits."))]
			v = strconv.FormatInt(q.Value()/e.ValueFrom.ResourceFieldRef.Divisor.Value(), 10)
		case strings.HasSuffix(e.Name, "_FILE"):
			v = remap(v)
		}
		env = append(env, e.Name+"="+v)
	}
	d := startAsImageEnv(t, img.binaries[wantBinaries[0]], env, args...)
	waitServing(t, d.addr, *c.ReadinessProbe.GRPC.Service)
	live := ""
	if c.LivenessProbe.GRPC.Service != nil {
		live = *c.LivenessProbe.GRPC.Service
	}
	waitServing(t, d.addr, live)
	if !strings.Contains(d.Log(), "probe-test") {
		t.Errorf("cdcstreamd did not log loading the tokens file's token name:\n%s", d.Log())
	}
}
