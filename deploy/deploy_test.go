package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/goleak"
	"sigs.k8s.io/yaml"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	namespace  = "ovsdb-etcd"
	binaryPath = "/usr/local/bin/ovsdb-etcd"
	imageName  = "ovsdb-etcd"
	schemaDir  = "/usr/share/ovn"
)

// The subset of the Kubernetes API the checks read.
type (
	object struct {
		APIVersion string          `json:"apiVersion"`
		Kind       string          `json:"kind"`
		Metadata   meta            `json:"metadata"`
		Spec       json.RawMessage `json:"spec"`
		file       string
	}
	meta struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	}
	workloadSpec struct {
		Replicas    *int   `json:"replicas"`
		ServiceName string `json:"serviceName"`
		Selector    struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Template struct {
			Metadata meta `json:"metadata"`
			Spec     struct {
				Containers []container `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	}
	container struct {
		Name    string   `json:"name"`
		Image   string   `json:"image"`
		Command []string `json:"command"`
		Args    []string `json:"args"`
		Env     []struct {
			Name string `json:"name"`
		} `json:"env"`
		Ports []struct {
			Name          string `json:"name"`
			ContainerPort int    `json:"containerPort"`
		} `json:"ports"`
		ReadinessProbe *probe `json:"readinessProbe"`
		LivenessProbe  *probe `json:"livenessProbe"`
		Resources      struct {
			Requests map[string]string `json:"requests"`
		} `json:"resources"`
	}
	probe struct {
		HTTPGet *struct {
			Port intOrString `json:"port"`
		} `json:"httpGet"`
		TCPSocket *struct {
			Port intOrString `json:"port"`
		} `json:"tcpSocket"`
	}
	serviceSpec struct {
		ClusterIP string            `json:"clusterIP"`
		Selector  map[string]string `json:"selector"`
		Ports     []servicePort     `json:"ports"`
	}
	servicePort struct {
		Name       string      `json:"name"`
		Port       int         `json:"port"`
		TargetPort intOrString `json:"targetPort"`
	}
	kustomization struct {
		Resources []string `json:"resources"`
	}
)

// intOrString is a port given by number or by name.
type intOrString struct {
	num  int
	name string
}

func (p *intOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &p.name)
	}
	return json.Unmarshal(b, &p.num)
}

// workload is a Deployment or StatefulSet with its decoded spec.
type workload struct {
	obj  object
	spec workloadSpec
}

type manifests struct {
	objects   []object
	workloads []workload
	services  map[string]serviceSpec // by name
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

func load(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in k8s/: %v", err)
	}
	m := manifests{services: map[string]serviceSpec{}}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSep.Split(string(data), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			js, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var o object
			if err := json.Unmarshal(js, &o); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			o.file = f
			m.objects = append(m.objects, o)
			switch o.Kind {
			case "Deployment", "StatefulSet":
				var s workloadSpec
				if err := json.Unmarshal(o.Spec, &s); err != nil {
					t.Fatalf("%s %s/%s spec: %v", f, o.Kind, o.Metadata.Name, err)
				}
				m.workloads = append(m.workloads, workload{obj: o, spec: s})
			case "Service":
				var s serviceSpec
				if err := json.Unmarshal(o.Spec, &s); err != nil {
					t.Fatalf("%s Service/%s spec: %v", f, o.Metadata.Name, err)
				}
				m.services[o.Metadata.Name] = s
			}
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func (m manifests) workload(t *testing.T, kind, name string) workload {
	t.Helper()
	for _, w := range m.workloads {
		if w.obj.Kind == kind && w.obj.Metadata.Name == name {
			return w
		}
	}
	t.Fatalf("no %s %q in k8s/", kind, name)
	return workload{}
}

func TestObjects(t *testing.T) {
	m := load(t)
	seen := map[string]string{}
	for _, o := range m.objects {
		id := o.Kind + "/" + o.Metadata.Name
		t.Run(id, func(t *testing.T) {
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Fatalf("%s: apiVersion, kind and metadata.name are required: %+v", o.file, o)
			}
			if prev, dup := seen[id]; dup {
				t.Errorf("%s: %s also defined in %s", o.file, id, prev)
			}
			seen[id] = o.file
			if o.Kind == "Namespace" {
				if o.Metadata.Name != namespace {
					t.Errorf("namespace %q, want %q", o.Metadata.Name, namespace)
				}
				return
			}
			if o.Metadata.Namespace != namespace {
				t.Errorf("metadata.namespace = %q, want %q", o.Metadata.Namespace, namespace)
			}
			if o.Metadata.Labels["app.kubernetes.io/part-of"] != namespace {
				t.Errorf("missing label app.kubernetes.io/part-of=%s", namespace)
			}
		})
	}
	for _, kind := range []string{"Namespace", "StatefulSet", "Deployment", "Service"} {
		if !slices.ContainsFunc(m.objects, func(o object) bool { return o.Kind == kind }) {
			t.Errorf("no %s in k8s/", kind)
		}
	}
}

func TestKustomization(t *testing.T) {
	data, err := os.ReadFile("k8s/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err = yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			want = append(want, b)
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources = %v, want every manifest %v", got, want)
	}
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func TestWorkloads(t *testing.T) {
	m := load(t)
	for _, w := range m.workloads {
		t.Run(w.obj.Kind+"/"+w.obj.Metadata.Name, func(t *testing.T) {
			s := w.spec
			if s.Replicas == nil || *s.Replicas < 1 {
				t.Errorf("replicas must be set and positive")
			}
			if len(s.Selector.MatchLabels) == 0 {
				t.Errorf("selector.matchLabels is empty")
			}
			for k, v := range s.Selector.MatchLabels {
				if s.Template.Metadata.Labels[k] != v {
					t.Errorf("selector %s=%s does not match the pod template labels %v", k, v, s.Template.Metadata.Labels)
				}
			}
			if len(s.Template.Spec.Containers) == 0 {
				t.Fatal("no containers")
			}
			for _, c := range s.Template.Spec.Containers {
				checkContainer(t, c)
			}
		})
	}
}

func checkContainer(t *testing.T, c container) {
	t.Helper()
	if c.Name == "" || c.Image == "" {
		t.Errorf("container %q: name and image are required", c.Name)
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
		t.Errorf("container %q: resources.requests needs cpu and memory", c.Name)
	}
	if c.ReadinessProbe == nil && c.LivenessProbe == nil {
		t.Errorf("container %q: no probe", c.Name)
	}
	env := map[string]bool{}
	for _, e := range c.Env {
		env[e.Name] = true
	}
	for _, arg := range slices.Concat(c.Command, c.Args) {
		for _, ref := range varRef.FindAllStringSubmatch(arg, -1) {
			if !env[ref[1]] {
				t.Errorf("container %q: %q uses $(%s), which env does not define", c.Name, arg, ref[1])
			}
		}
	}
	for _, p := range []*probe{c.ReadinessProbe, c.LivenessProbe} {
		if p == nil {
			continue
		}
		var port intOrString
		switch {
		case p.HTTPGet != nil:
			port = p.HTTPGet.Port
		case p.TCPSocket != nil:
			port = p.TCPSocket.Port
		default:
			t.Errorf("container %q: probe is neither httpGet nor tcpSocket", c.Name)
			continue
		}
		if !c.hasPort(port) {
			t.Errorf("container %q: probe port %+v is not a container port", c.Name, port)
		}
	}
}

func (c container) hasPort(p intOrString) bool {
	for _, cp := range c.Ports {
		if p.name != "" && cp.Name == p.name || p.name == "" && cp.ContainerPort == p.num {
			return true
		}
	}
	return false
}

func (c container) port(name string) int {
	for _, cp := range c.Ports {
		if cp.Name == name {
			return cp.ContainerPort
		}
	}
	return 0
}

// selected returns the workloads whose pod labels match selector.
func (m manifests) selected(selector map[string]string) []workload {
	var out []workload
	for _, w := range m.workloads {
		match := len(selector) > 0
		for k, v := range selector {
			if w.spec.Template.Metadata.Labels[k] != v {
				match = false
			}
		}
		if match {
			out = append(out, w)
		}
	}
	return out
}

func TestServices(t *testing.T) {
	m := load(t)
	for name, s := range m.services {
		t.Run(name, func(t *testing.T) {
			ws := m.selected(s.Selector)
			if len(ws) == 0 {
				t.Fatalf("selector %v matches no workload", s.Selector)
			}
			if len(s.Ports) == 0 {
				t.Fatal("no ports")
			}
			for _, p := range s.Ports {
				target := p.TargetPort
				if target.name == "" && target.num == 0 {
					target.num = p.Port
				}
				for _, w := range ws {
					if !slices.ContainsFunc(w.spec.Template.Spec.Containers, func(c container) bool { return c.hasPort(target) }) {
						t.Errorf("port %d: target %+v is not a port of %s/%s", p.Port, target, w.obj.Kind, w.obj.Metadata.Name)
					}
				}
			}
		})
	}
}

// flagValues returns the values of --name=value and --name value in args.
func flagValues(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if v, ok := strings.CutPrefix(args[i], "--"+name+"="); ok {
			out = append(out, v)
		} else if args[i] == "--"+name && i+1 < len(args) {
			out = append(out, args[i+1])
			i++
		}
	}
	return out
}

func oneFlag(t *testing.T, args []string, name string) string {
	t.Helper()
	v := flagValues(args, name)
	if len(v) != 1 {
		t.Fatalf("--%s given %d times in %q, want once", name, len(v), args)
	}
	return v[0]
}

func TestEtcd(t *testing.T) {
	m := load(t)
	sts := m.workload(t, "StatefulSet", "etcd")
	c := sts.spec.Template.Spec.Containers[0]
	args := slices.Concat(c.Command[1:], c.Args)

	known := etcdFlags()
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !known[name] {
			t.Errorf("etcd argument %q is not a known etcd flag", a)
		}
	}

	n := *sts.spec.Replicas
	if n < 3 || n%2 == 0 {
		t.Errorf("etcd replicas = %d, want an odd number >= 3", n)
	}
	if _, ok := m.services[sts.spec.ServiceName]; !ok || m.services[sts.spec.ServiceName].ClusterIP != "None" {
		t.Errorf("serviceName %q is not a headless Service", sts.spec.ServiceName)
	}
	members := strings.Split(oneFlag(t, args, "initial-cluster"), ",")
	if len(members) != n {
		t.Errorf("initial-cluster has %d members, replicas %d", len(members), n)
	}
	for i, mem := range members {
		want := fmt.Sprintf("%s-%d=http://%s-%d.%s.%s.svc:%d", sts.obj.Metadata.Name, i, sts.obj.Metadata.Name, i,
			sts.spec.ServiceName, namespace, c.port("peer"))
		if mem != want {
			t.Errorf("initial-cluster member %d = %q, want %q", i, mem, want)
		}
	}

	// The txnengine sizes its batches by the cluster's limits: they must be
	// the cluster's, and raised (DESIGN.md "etcd limits").
	te := m.workload(t, "Deployment", "txnengine").spec.Template.Spec.Containers[0]
	limits := []struct {
		flag string
		min  int
	}{
		{flag: "max-txn-ops", min: 10_000},
		{flag: "max-request-bytes", min: 8 << 20},
	}
	for _, l := range limits {
		etcdVal, err := strconv.Atoi(oneFlag(t, args, l.flag))
		if err != nil {
			t.Fatal(err)
		}
		if etcdVal < l.min {
			t.Errorf("etcd --%s=%d, want at least %d", l.flag, etcdVal, l.min)
		}
		if teVal := oneFlag(t, te.Args, l.flag); teVal != strconv.Itoa(etcdVal) {
			t.Errorf("txnengine --%s=%s, etcd --%s=%d: they must be equal", l.flag, teVal, l.flag, etcdVal)
		}
	}
}

// etcdFlags returns the names of etcd's command-line flags that the
// manifest may use: embed.Config's JSON (config file) names, which are the
// flag names, plus the URL flags that embed.Config keeps as url.URL.
func etcdFlags() map[string]bool {
	known := map[string]bool{
		"listen-client-urls": true, "listen-peer-urls": true, "advertise-client-urls": true,
		"initial-advertise-peer-urls": true, "listen-metrics-urls": true,
	}
	typ := reflect.TypeFor[embed.Config]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			known[name] = true
		}
	}
	return known
}

// buildBinary builds cmd/ovsdb-etcd and returns its path.
func buildBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build cmd/ovsdb-etcd: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "ovsdb-etcd")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "../cmd/ovsdb-etcd")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ovsdb-etcd: %v\n%s", err, out)
	}
	return bin
}

var helpFlag = regexp.MustCompile(`^\s+(?:-[A-Za-z], )?--([a-z0-9][a-z0-9-]*)`)

// subcommandFlags runs "bin sub --help" and returns the flag names it lists.
func subcommandFlags(t *testing.T, bin, sub string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, sub, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s --help: %v\n%s", bin, sub, err, out)
	}
	flags := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if mm := helpFlag.FindStringSubmatch(sc.Text()); mm != nil {
			flags[mm[1]] = true
		}
	}
	if len(flags) < 2 {
		t.Fatalf("%s %s --help lists no flags:\n%s", bin, sub, out)
	}
	return flags
}

func TestOvsdbEtcdContainers(t *testing.T) {
	m := load(t)
	bin := buildBinary(t)
	flagsOf := map[string]map[string]bool{}
	var prefixes, services []string
	roles := map[string]bool{}

	for _, w := range m.workloads {
		for _, c := range w.spec.Template.Spec.Containers {
			if repo, _, _ := strings.Cut(c.Image, ":"); repo != imageName {
				continue
			}
			t.Run(w.obj.Metadata.Name+"/"+c.Name, func(t *testing.T) {
				if len(c.Command) > 0 && c.Command[0] != binaryPath {
					t.Errorf("command %q, want the image's entrypoint %s", c.Command, binaryPath)
				}
				if len(c.Args) == 0 {
					t.Fatal("no args: the first must be the role")
				}
				role, args := c.Args[0], c.Args[1:]
				roles[role] = true
				if flagsOf[role] == nil {
					flagsOf[role] = subcommandFlags(t, bin, role)
				}
				for _, a := range args {
					name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
					if !strings.HasPrefix(a, "--") || !flagsOf[role][name] {
						t.Errorf("%q is not a flag of ovsdb-etcd %s", a, role)
					}
				}
				prefixes = append(prefixes, oneFlag(t, args, "prefix"))
				services = append(services, oneFlag(t, args, "service"))
				for _, ep := range strings.Split(oneFlag(t, args, "etcd-endpoints"), ",") {
					u, err := url.Parse(ep)
					if err != nil {
						t.Fatalf("--etcd-endpoints %q: %v", ep, err)
					}
					m.checkServiceAddr(t, "--etcd-endpoints", u.Host)
				}
				for _, hub := range flagValues(args, "monitorhub") {
					m.checkServiceAddr(t, "--monitorhub", hub)
				}
				for _, l := range flagValues(args, "listen") {
					checkListenPort(t, c, "--listen", l)
				}
				for _, r := range flagValues(args, "remote") {
					kind, rest, _ := strings.Cut(r, ":")
					if kind != "ptcp" && kind != "pssl" {
						t.Errorf("--remote %q: a pod serves ptcp or pssl", r)
						continue
					}
					port, _, _ := strings.Cut(rest, ":")
					checkListenPort(t, c, "--remote", net.JoinHostPort("", port))
				}
				for _, s := range flagValues(args, "schema") {
					if filepath.Dir(s) != schemaDir {
						t.Errorf("--schema %q is not under %s, which the image provides", s, schemaDir)
					}
					if _, err := os.Stat(s); err != nil {
						t.Errorf("--schema %q: no such schema from Debian's ovn-central here (make deps): %v", s, err)
					}
				}
			})
		}
	}
	for _, role := range []string{"txnengine", "monitorhub", "frontend"} {
		if !roles[role] {
			t.Errorf("no workload runs ovsdb-etcd %s", role)
		}
	}
	if w := m.workload(t, "Deployment", "txnengine"); *w.spec.Replicas < 2 {
		t.Errorf("txnengine replicas = %d, want a leader and at least one standby", *w.spec.Replicas)
	}
	for _, vals := range [][]string{prefixes, services} {
		if len(slices.Compact(slices.Sorted(slices.Values(vals)))) != 1 {
			t.Errorf("roles disagree on --prefix or --service: %q", vals)
		}
	}
	for _, port := range []int{6641, 6642} {
		if !m.servicePort(port) {
			t.Errorf("no Service exposes OVSDB port %d", port)
		}
	}
}

// checkServiceAddr checks that addr (host:port) names a Service of the
// namespace by "<svc>", "<svc>.<ns>" or "<svc>.<ns>.svc", and one of its
// ports.
func (m manifests) checkServiceAddr(t *testing.T, flag, addr string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("%s %q: %v", flag, addr, err)
		return
	}
	name, rest, _ := strings.Cut(host, ".")
	if rest != "" && rest != namespace && rest != namespace+".svc" {
		t.Errorf("%s %q: not a Service of namespace %s", flag, addr, namespace)
	}
	s, ok := m.services[name]
	if !ok {
		t.Errorf("%s %q: no Service %q", flag, addr, name)
		return
	}
	if !slices.ContainsFunc(s.Ports, func(p servicePort) bool { return strconv.Itoa(p.Port) == port }) {
		t.Errorf("%s %q: Service %s has no port %s", flag, addr, name, port)
	}
}

func (m manifests) servicePort(port int) bool {
	for _, s := range m.services {
		for _, p := range s.Ports {
			if p.Port == port {
				return true
			}
		}
	}
	return false
}

func checkListenPort(t *testing.T, c container, flag, addr string) {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("%s %q: %v", flag, addr, err)
		return
	}
	n, err := strconv.Atoi(port)
	if err != nil || !c.hasPort(intOrString{num: n}) {
		t.Errorf("%s %q: port %s is not a container port", flag, addr, port)
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVersion == nil {
		t.Fatal("no go directive in go.mod")
	}
	var froms []string
	var copies, runs []string
	entrypoint := ""
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		instr, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			froms = append(froms, rest)
		case "COPY":
			copies = append(copies, rest)
		case "RUN":
			runs = append(runs, rest)
		case "ENTRYPOINT":
			var ep []string
			if err := json.Unmarshal([]byte(rest), &ep); err != nil || len(ep) == 0 {
				t.Errorf("ENTRYPOINT %s: want the exec (JSON) form: %v", rest, err)
				continue
			}
			entrypoint = ep[0]
		}
	}
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got FROM %q", froms)
	}
	if want := "golang:" + string(goVersion[1]) + " "; !strings.HasPrefix(froms[0]+" ", want) {
		t.Errorf("first stage FROM %q, want %q (go.mod's Go)", froms[0], strings.TrimSpace(want))
	}
	if !slices.ContainsFunc(runs, func(r string) bool { return strings.Contains(r, "go build") && strings.Contains(r, "./cmd/ovsdb-etcd") }) {
		t.Error("no RUN builds ./cmd/ovsdb-etcd")
	}
	if entrypoint != binaryPath {
		t.Errorf("ENTRYPOINT %q, want %q", entrypoint, binaryPath)
	}
	for _, dst := range []string{binaryPath, schemaDir + "/"} {
		if !slices.ContainsFunc(copies, func(c string) bool { return strings.HasSuffix(c, " "+dst) }) {
			t.Errorf("no COPY into %s in the final image", dst)
		}
	}
	if _, err := os.Stat("../cmd/ovsdb-etcd"); err != nil {
		t.Errorf("the Dockerfile builds ./cmd/ovsdb-etcd: %v", err)
	}
}
