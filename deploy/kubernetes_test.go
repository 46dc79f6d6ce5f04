package deploy_test

import (
	"io/fs"
	"net"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/auditbot/auditbot/campaigns"
	"github.com/auditbot/auditbot/deploy/image"
)

// tokenSecret and tokenKey are the Secret the operator creates (the
// README's kubectl command) and its key.
const (
	tokenSecret = "auditbot-conduit-token"
	tokenKey    = "conduit-token"
)

// kustomizations are the base and the overlay the README uses.
var kustomizations = []string{"kubernetes/base", "kubernetes/example"}

// objects are a kustomization's output, each decoded strictly (an unknown
// or misspelt field fails) into its k8s.io/api type.
type objects struct {
	deployments []*appsv1.Deployment
	configMaps  map[string]*corev1.ConfigMap
	pvcs        map[string]*corev1.PersistentVolumeClaim
	accounts    map[string]*corev1.ServiceAccount
	namespaces  []*corev1.Namespace
	policies    []*networkingv1.NetworkPolicy
}

// build runs kustomize on dir as `kubectl apply -k` would.
func build(t *testing.T, dir string) *objects {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	o := &objects{configMaps: map[string]*corev1.ConfigMap{}, pvcs: map[string]*corev1.PersistentVolumeClaim{}, accounts: map[string]*corev1.ServiceAccount{}}
	for _, r := range m.Resources() {
		data, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(data, &tm); err != nil {
			t.Fatal(err)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			d := &appsv1.Deployment{}
			o.deployments, obj = append(o.deployments, d), d
		case "v1 ConfigMap":
			c := &corev1.ConfigMap{}
			obj = c
			defer func() { o.configMaps[c.Name] = c }()
		case "v1 PersistentVolumeClaim":
			c := &corev1.PersistentVolumeClaim{}
			obj = c
			defer func() { o.pvcs[c.Name] = c }()
		case "v1 ServiceAccount":
			a := &corev1.ServiceAccount{}
			obj = a
			defer func() { o.accounts[a.Name] = a }()
		case "v1 Namespace":
			n := &corev1.Namespace{}
			o.namespaces, obj = append(o.namespaces, n), n
		case "networking.k8s.io/v1 NetworkPolicy":
			p := &networkingv1.NetworkPolicy{}
			o.policies, obj = append(o.policies, p), p
		default:
			t.Fatalf("%s: unexpected %s %s", dir, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(data, obj); err != nil {
			t.Fatalf("%s: %s %s: %v", dir, tm.Kind, r.GetName(), err)
		}
	}
	return o
}

// pod is the Deployment's pod as the test reads it.
type pod struct {
	spec      *corev1.PodSpec
	c         *corev1.Container
	volumes   map[string]corev1.Volume
	mounts    map[string]corev1.VolumeMount // by volume name
	cfgPath   string
	cfg       *campaigns.Config
	cfgData   []byte
	campaigns *corev1.ConfigMap
}

// TestKubernetes builds the base and the example overlay and checks them
// against the binary and the image.
func TestKubernetes(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(path.Base(dir), func(t *testing.T) {
			o := build(t, dir)
			p := checkDeployment(t, o)
			checkSecurity(t, o, p)
			checkConfig(t, o, p)
			checkProbes(t, p)
			checkNetworkPolicy(t, o, p)
			checkImage(t, dir, p.c.Image)
		})
	}
}

// checkDeployment: one Deployment of one replica, recreated (never two
// daemons on the state file), one container running `run` with --config
// on a mounted ConfigMap.
func checkDeployment(t *testing.T, o *objects) *pod {
	t.Helper()
	if len(o.deployments) != 1 {
		t.Fatalf("%d Deployments, want 1", len(o.deployments))
	}
	d := o.deployments[0]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Error("the Deployment must have exactly one replica: one daemon per state file")
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q, want Recreate: a rolling update would run two daemons on the volume", d.Spec.Strategy.Type)
	}
	spec := &d.Spec.Template.Spec
	if len(spec.Containers) != 1 || len(spec.InitContainers) != 0 {
		t.Fatalf("%d containers and %d init containers, want 1 and 0", len(spec.Containers), len(spec.InitContainers))
	}
	p := &pod{spec: spec, c: &spec.Containers[0], volumes: map[string]corev1.Volume{}, mounts: map[string]corev1.VolumeMount{}}
	for _, v := range spec.Volumes {
		p.volumes[v.Name] = v
	}
	for _, m := range p.c.VolumeMounts {
		if _, ok := p.volumes[m.Name]; !ok {
			t.Errorf("mount %s: no volume %s", m.MountPath, m.Name)
		}
		if m.SubPath != "" && path.Base(m.MountPath) != m.SubPath {
			t.Errorf("mount %s: subPath %s under another name", m.MountPath, m.SubPath)
		}
		p.mounts[m.Name] = m
	}
	for name := range p.volumes {
		if _, ok := p.mounts[name]; !ok {
			t.Errorf("volume %s is mounted nowhere", name)
		}
	}
	if len(p.c.Command) != 0 {
		t.Errorf("command %q replaces the image's entrypoint %s", p.c.Command, image.BinaryPath)
	}
	name, cfgPath := parseArgs(t, p.c.Args)
	if name != "run" {
		t.Errorf("the container runs %q, want run", name)
	}
	p.cfgPath = cfgPath
	for vname, m := range p.mounts {
		v := p.volumes[vname]
		if v.ConfigMap == nil || !(m.MountPath == cfgPath && m.SubPath != "" || m.SubPath == "" && path.Dir(cfgPath) == m.MountPath) {
			continue
		}
		cm, ok := o.configMaps[v.ConfigMap.Name]
		if !ok {
			t.Fatalf("the config comes from ConfigMap %s, which the kustomization does not define", v.ConfigMap.Name)
		}
		p.cfgData = []byte(cm.Data[path.Base(cfgPath)])
		p.cfg = loadConfig(t, cfgPath, p.cfgData)
	}
	if p.cfg == nil {
		t.Fatalf("no ConfigMap mounted at --config %s", cfgPath)
	}
	return p
}

// checkSecurity: the pod passes the "restricted" Pod Security Standard
// (as the admission controller evaluates it), as the image's non-root
// user, with a read-only root file system, its own service account
// without an API token, and bounded resources.
func checkSecurity(t *testing.T, o *objects, p *pod) {
	t.Helper()
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range eval.EvaluatePod(psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}, &metav1.ObjectMeta{}, p.spec) {
		if !r.Allowed {
			t.Errorf("Pod Security restricted: %s: %s", r.ForbiddenReason, r.ForbiddenDetail)
		}
	}
	sc, csc := p.spec.SecurityContext, p.c.SecurityContext
	if sc == nil || csc == nil {
		t.Fatal("no securityContext")
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != image.UID || sc.RunAsGroup == nil || *sc.RunAsGroup != image.GID {
		t.Errorf("runAsUser/runAsGroup %v/%v, want the image's user %d:%d", sc.RunAsUser, sc.RunAsGroup, image.UID, image.GID)
	}
	if sc.FSGroup == nil {
		t.Error("no fsGroup: the non-root user could not write its volume")
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Error("the root file system is writable")
	}
	if csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(csc.Capabilities.Add) != 0 {
		t.Errorf("capabilities %+v, want all dropped and none added", csc.Capabilities)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccomp %+v, want RuntimeDefault", sc.SeccompProfile)
	}
	if p.spec.AutomountServiceAccountToken == nil || *p.spec.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token; auditbot never talks to the Kubernetes API")
	}
	if a, ok := o.accounts[p.spec.ServiceAccountName]; !ok || a.AutomountServiceAccountToken == nil || *a.AutomountServiceAccountToken {
		t.Errorf("service account %q: defined %v, without automounted token", p.spec.ServiceAccountName, ok)
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := p.c.Resources.Requests[res]; !ok {
			t.Errorf("no %s request", res)
		}
		if _, ok := p.c.Resources.Limits[res]; !ok {
			t.Errorf("no %s limit", res)
		}
	}
	// With a read-only root, every place the daemon writes is a volume.
	writable := map[string]bool{}
	for vname, m := range p.mounts {
		if !m.ReadOnly && (p.volumes[vname].PersistentVolumeClaim != nil || p.volumes[vname].EmptyDir != nil) {
			writable[m.MountPath] = true
		}
	}
	for _, dir := range []string{path.Dir(p.cfg.StateFile), "/tmp"} {
		if !writable[dir] {
			t.Errorf("%s is not on a writable volume", dir)
		}
	}
}

// checkConfig: the token, the campaigns and the state file are where the
// config says, the campaigns ConfigMap is defined and every file in it is
// a campaign named after its key, and the daemon's user reads them all
// (and writes the state file) laid out as the kubelet lays them out.
func checkConfig(t *testing.T, o *objects, p *pod) {
	t.Helper()
	cfg := p.cfg
	tr := newTree(t)
	fsGroup := int(*p.spec.SecurityContext.FSGroup)
	tr.file(p.cfgPath, p.cfgData, 0, fsGroup, 0o644) // a subPath mount: the file itself
	found := map[string]bool{}
	for vname, m := range p.mounts {
		v := p.volumes[vname]
		switch {
		case v.Secret != nil:
			found["secret"] = true
			if v.Secret.SecretName != tokenSecret || cfg.Conduit.TokenFile != path.Join(m.MountPath, tokenKey) {
				t.Errorf("Secret %s at %s; conduit.token_file %s; want key %s of %s", v.Secret.SecretName, m.MountPath, cfg.Conduit.TokenFile, tokenKey, tokenSecret)
			}
			if !m.ReadOnly {
				t.Error("the token's mount is writable")
			}
			mode := fs.FileMode(corev1.SecretVolumeSourceDefaultMode)
			if v.Secret.DefaultMode != nil {
				mode = fs.FileMode(*v.Secret.DefaultMode)
			}
			if mode&0o007 != 0 {
				t.Errorf("the Secret's defaultMode %#o lets others read the token", mode)
			}
			tr.atomicVolume(m.MountPath, map[string][]byte{tokenKey: []byte(fakeToken + "\n")}, fsGroup, mode)
		case v.ConfigMap != nil && m.MountPath == cfg.CampaignsDir:
			found["campaigns"] = true
			cm, ok := o.configMaps[v.ConfigMap.Name]
			if !ok {
				t.Fatalf("the campaigns come from ConfigMap %s, which the kustomization does not define", v.ConfigMap.Name)
			}
			p.campaigns = cm
			files := map[string][]byte{}
			for key, data := range cm.Data {
				files[key] = []byte(data)
			}
			tr.atomicVolume(m.MountPath, files, fsGroup, 0o644)
		case v.PersistentVolumeClaim != nil:
			found["state"] = true
			if _, ok := o.pvcs[v.PersistentVolumeClaim.ClaimName]; !ok {
				t.Errorf("PersistentVolumeClaim %s is not defined", v.PersistentVolumeClaim.ClaimName)
			}
			if path.Dir(cfg.StateFile) != m.MountPath {
				t.Errorf("state_file %s is not on the volume at %s", cfg.StateFile, m.MountPath)
			}
			// What fsGroup makes of a new volume's root.
			tr.dir(m.MountPath, 0, fsGroup, 0o775|fs.ModeSetgid)
		}
	}
	for _, want := range []string{"secret", "campaigns", "state"} {
		if !found[want] {
			t.Errorf("no volume for the %s", want)
		}
	}
	if p.campaigns == nil {
		return
	}
	var keys []string
	for key := range p.campaigns.Data {
		keys = append(keys, strings.TrimSuffix(key, ".yaml"))
	}
	slices.Sort(keys)
	id := identity{uid: uint32(*p.spec.SecurityContext.RunAsUser), gid: uint32(*p.spec.SecurityContext.RunAsGroup), groups: []uint32{uint32(fsGroup)}}
	got := runAsDaemon(t, tr.root, p.cfgPath, id)
	if got.Error != "" {
		t.Fatalf("as the pod's user %+v: %s", id, got.Error)
	}
	if !slices.Equal(got.Campaigns, keys) && !(len(got.Campaigns) == 0 && len(keys) == 0) {
		t.Errorf("the daemon reads campaigns %q, the ConfigMap holds %q", got.Campaigns, keys)
	}
}

// checkProbes: startup and liveness on /healthz, readiness on /readyz,
// all on the port metrics.listen names and the container declares, paths
// the daemon serves.
func checkProbes(t *testing.T, p *pod) {
	t.Helper()
	host, port, err := net.SplitHostPort(p.cfg.Metrics.Listen)
	if err != nil {
		t.Fatalf("metrics.listen %q: %v", p.cfg.Metrics.Listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsLoopback() {
		t.Errorf("metrics.listen %s: the kubelet probes the pod's address, not loopback", p.cfg.Metrics.Listen)
	}
	if len(p.c.Ports) != 1 || strconv.Itoa(int(p.c.Ports[0].ContainerPort)) != port || port != strconv.Itoa(image.MetricsPort) {
		t.Errorf("containerPort %v, metrics.listen %s, the image exposes %d", p.c.Ports, p.cfg.Metrics.Listen, image.MetricsPort)
	}
	for _, pr := range []struct {
		name  string
		probe *corev1.Probe
		want  string
	}{{"startup", p.c.StartupProbe, "/healthz"}, {"liveness", p.c.LivenessProbe, "/healthz"}, {"readiness", p.c.ReadinessProbe, "/readyz"}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", pr.name)
			continue
		}
		g := pr.probe.HTTPGet
		if g.Path != pr.want || !served(g.Path) {
			t.Errorf("%s probe on %q, want %s", pr.name, g.Path, pr.want)
		}
		if containerPort(p.c, g.Port) != port {
			t.Errorf("%s probe on port %s, metrics.listen is %s", pr.name, g.Port.String(), p.cfg.Metrics.Listen)
		}
	}
}

// containerPort resolves a probe's or policy's port (a number or a
// container port's name).
func containerPort(c *corev1.Container, port intstr.IntOrString) string {
	if port.Type == intstr.Int {
		return strconv.Itoa(port.IntValue())
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return strconv.Itoa(int(p.ContainerPort))
		}
	}
	return "unknown port " + port.StrVal
}

// checkNetworkPolicy: the endpoints have no authentication, so a policy
// selecting the pod admits to their port only peers named by selectors.
func checkNetworkPolicy(t *testing.T, o *objects, p *pod) {
	t.Helper()
	_, port, _ := net.SplitHostPort(p.cfg.Metrics.Listen)
	labels := o.deployments[0].Spec.Template.Labels
	guarded := false
	for _, np := range o.policies {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			t.Fatal(err)
		}
		if len(np.Spec.PodSelector.MatchLabels)+len(np.Spec.PodSelector.MatchExpressions) == 0 || !sel.Matches(k8slabels.Set(labels)) {
			continue
		}
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			continue
		}
		guarded = true
		for _, rule := range np.Spec.Ingress {
			covers := len(rule.Ports) == 0
			for _, pp := range rule.Ports {
				if pp.Port == nil || containerPort(p.c, *pp.Port) == port {
					covers = true
				}
			}
			if !covers {
				continue
			}
			if len(rule.From) == 0 {
				t.Errorf("NetworkPolicy %s admits everyone to port %s", np.Name, port)
			}
			for _, peer := range rule.From {
				if peer.IPBlock != nil || empty(peer.PodSelector) && empty(peer.NamespaceSelector) {
					t.Errorf("NetworkPolicy %s admits a peer named by no selector to port %s: %+v", np.Name, port, peer)
				}
			}
		}
	}
	if !guarded {
		t.Errorf("metrics.listen %s has no authentication and no NetworkPolicy guards it", p.cfg.Metrics.Listen)
	}
}

func empty(s *metav1.LabelSelector) bool {
	return s == nil || len(s.MatchLabels)+len(s.MatchExpressions) == 0
}

// checkImage: the base names the image by the name the overlay's images:
// replaces; the overlay pins a version or digest, never latest.
func checkImage(t *testing.T, dir, img string) {
	t.Helper()
	if dir == "kubernetes/base" {
		if img != "auditbot" {
			t.Errorf("the base's image %q: want auditbot, for images: to replace", img)
		}
		return
	}
	name, tag, hasTag := strings.Cut(img, ":")
	if strings.Contains(img, "@sha256:") {
		return
	}
	if !hasTag || tag == "latest" || name == "auditbot" {
		t.Errorf("the overlay's image %q: want a registry and a version (or a digest)", img)
	}
}

// TestReadmeCreatesTheSecret: the README's kubectl command creates the
// Secret and key the manifest mounts.
func TestReadmeCreatesTheSecret(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := "kubectl -n auditbot create secret generic " + tokenSecret + " --from-file=" + tokenKey + "="
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md lacks %q", want)
	}
}
