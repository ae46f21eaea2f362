package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// upstreamModule is the module whose code this command mirrors.
const upstreamModule = "github.com/buildpacks/lifecycle"

// mirror is one function of ours that mirrors one of upstream's.
type mirror struct {
	ours     string // file of this package
	upstream string // file of the upstream module, slash-separated
	fn       string // upstream's "Recv.Name" or "Name"
	as       string // our name for it, when not fn (same receiver)
}

// mirrors lists every mirrored function; each file that holds one says so
// at its top.
var mirrors = []mirror{
	{"images.go", "cmd/lifecycle/exporter.go", "exportCmd.initDaemonAppImage", ""},
	{"images.go", "cmd/lifecycle/exporter.go", "exportCmd.initRemoteAppImage", ""},
	{"images.go", "cmd/lifecycle/exporter.go", "exportCmd.initLayoutAppImage", ""},
	{"images.go", "cmd/lifecycle/exporter.go", "launcherConfig", ""},
	{"images.go", "cmd/lifecycle/exporter.go", "exportCmd.customSourceDateEpoch", ""},
	{"images.go", "cmd/lifecycle/exporter.go", "exportCmd.supportsRunImageExtension", ""},
	{"images.go", "cmd/lifecycle/exporter.go", "exportCmd.supportsHistory", ""},
	{"images.go", "cmd/lifecycle/exporter.go", "exportCmd.getExtendedConfig", ""},
	{"images.go", "cmd/lifecycle/exporter.go", "exportCmd.hasExtendedLayers", ""},
	{"images.go", "cmd/lifecycle/main.go", "initCache", ""},
	{"images.go", "cmd/lifecycle/main.go", "verifyBuildpackApis", ""},
	{"export.go", "cmd/lifecycle/exporter.go", "exportCmd.DefineFlags", ""},
	{"create.go", "cmd/lifecycle/creator.go", "createCmd.DefineFlags", ""},
	{"rebase.go", "cmd/lifecycle/rebaser.go", "rebaseCmd.DefineFlags", ""},
	{"rebase.go", "cmd/lifecycle/rebaser.go", "rebaseCmd.Args", "rebaseCmd.upstreamArgs"},
	{"rebase.go", "cmd/lifecycle/rebaser.go", "rebaseCmd.Privileges", ""},
	{"rebase.go", "cmd/lifecycle/rebaser.go", "rebaseCmd.setAppImage", ""},
}

// renames normalise our names to upstream's before comparing: each
// difference that is ours on purpose.
var renames = []struct{ ours, upstream string }{
	// The launcher's version: upstream's cmd.Version, which our build sets
	// to the same value; read from the build information without -X.
	{`platform.UpstreamVersion()`, `cmd.Version`},
	// lifecycle's platform package, named lplatform beside ours.
	{`lplatform.`, `platform.`},
}

// TestMirrorsUpstream compares each mirrored function with upstream's, in
// the version go.mod requires, read from the module cache. When go.mod
// moves lifecycle to a version that changed one, it fails with the diff:
// what to re-sync.
func TestMirrorsUpstream(t *testing.T) {
	t.Parallel()
	dir := upstreamDir(t)
	for _, m := range mirrors {
		t.Run(m.fn, func(t *testing.T) {
			t.Parallel()
			ours, err := os.ReadFile(m.ours)
			if err != nil {
				t.Fatal(err)
			}
			up, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(m.upstream)))
			if err != nil {
				t.Fatal(err)
			}
			if diff, err := compareMirrorAs(ours, up, m.as, m.fn); err != nil || diff != "" {
				t.Errorf("%s %s no longer mirrors %s (%v); re-sync it (- ours, + upstream):\n%s", m.ours, m.fn, filepath.Join(dir, m.upstream), err, diff)
			}
		})
	}
}

// The comparison fails, with a diff naming the change, on a copy of
// upstream that differs from ours.
func TestMirrorsUpstreamDetectsChange(t *testing.T) {
	t.Parallel()
	dir := upstreamDir(t)
	up, err := os.ReadFile(filepath.Join(dir, "cmd", "lifecycle", "exporter.go"))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile("images.go")
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(up, []byte(`return e.PlatformAPI.AtLeast("0.12")
}`), []byte(`return e.PlatformAPI.AtLeast("0.14")
}`), 1)
	if bytes.Equal(changed, up) {
		t.Fatal("the modification did not apply")
	}
	if diff, err := compareMirror(ours, up, "exportCmd.supportsHistory"); err != nil || diff != "" {
		t.Fatalf("unmodified copy: %v\n%s", err, diff)
	}
	diff, err := compareMirror(ours, changed, "exportCmd.supportsHistory")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(diff, `-	return e.PlatformAPI.AtLeast("0.12")`) || !strings.Contains(diff, `+	return e.PlatformAPI.AtLeast("0.14")`) {
		t.Fatalf("diff does not show the change:\n%s", diff)
	}
	if _, err := compareMirror(ours, changed, "exportCmd.noSuchFunction"); err == nil {
		t.Fatal("a function upstream removed is not reported")
	}
}

// TestCreatorEnvMirrorsUpstream checks that the creator passes its stock
// phases every CNB_* input upstream resolves (platform.NewLifecycleInputs),
// but those listed here: a new input upstream shows up as a failure.
func TestCreatorEnvMirrorsUpstream(t *testing.T) {
	t.Parallel()
	notPassed := []string{
		"EnvBuildImage", "EnvExtendKind", "EnvExtendedDir", "EnvExtensionsDir", "EnvGeneratedDir", "EnvKanikoCacheTTL", // extensions: the creator refuses them
		"EnvForceRebase",                                       // rebaser only
		"EnvParallelExport", "EnvProcessType", "EnvReportPath", // export, which runs in this process
	}
	src, err := os.ReadFile(filepath.Join(upstreamDir(t), "platform", "lifecycle_inputs.go"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "lifecycle_inputs.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	fn := findFunc(f, "NewLifecycleInputs")
	if fn == nil {
		t.Fatal("upstream has no NewLifecycleInputs")
	}
	upstream := map[string]bool{}
	ast.Inspect(fn, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && regexp.MustCompile(`^Env[A-Z]`).MatchString(id.Name) && id.Name != "EnvOrDefault" {
			upstream[id.Name] = true
		}
		return true
	})
	ours := map[string]bool{}
	for _, name := range createEnvNames(t) {
		ours[name] = true
	}
	for name := range upstream {
		if !ours[name] && !slices.Contains(notPassed, name) {
			t.Errorf("upstream resolves %s, which the creator neither passes (inputVars in create.go) nor lists as not passed", name)
		}
	}
	for name := range ours {
		// CNB_PLATFORM_API is read by upstream's main, not NewLifecycleInputs.
		if !upstream[name] && name != "EnvPlatformAPI" {
			t.Errorf("create.go passes %s, which upstream no longer resolves", name)
		}
	}
}

// createEnvNames lists the lplatform.Env* names inputVars passes.
func createEnvNames(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "create.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	fn := findFunc(f, "createCmd.inputVars")
	if fn == nil {
		t.Fatal("create.go has no inputVars")
	}
	var out []string
	ast.Inspect(fn, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "lplatform" && strings.HasPrefix(sel.Sel.Name, "Env") {
				out = append(out, sel.Sel.Name)
			}
		}
		return true
	})
	return out
}

// upstreamDir is the module cache directory of the lifecycle version in
// go.mod.
func upstreamDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", upstreamModule).Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Fatalf("go list -m %s: %v (is the module downloaded? go mod download)", upstreamModule, err)
	}
	return dir
}

// compareMirror prints function fn of both sources without comments and
// blank lines, our names normalised to upstream's, and returns a line diff
// ("-" ours, "+" upstream: what to change), empty when they are the same.
func compareMirror(ours, upstream []byte, fn string) (string, error) {
	return compareMirrorAs(ours, upstream, "", fn)
}

// compareMirrorAs is compareMirror for our function as ("" for fn), which
// has the receiver of upstream's fn and another name.
func compareMirrorAs(ours, upstream []byte, as, fn string) (string, error) {
	if as == "" {
		as = fn
	}
	o, err := printFunc(ours, as)
	if err != nil {
		return "", fmt.Errorf("ours: %w", err)
	}
	ourName := as[strings.LastIndexByte(as, '.')+1:]
	upName := fn[strings.LastIndexByte(fn, '.')+1:]
	head, body, _ := strings.Cut(o, "\n")
	o = strings.Replace(head, ") "+ourName+"(", ") "+upName+"(", 1) + "\n" + body
	for _, r := range renames {
		o = strings.ReplaceAll(o, r.ours, r.upstream)
	}
	u, err := printFunc(upstream, fn)
	if err != nil {
		return "", fmt.Errorf("upstream: %w", err)
	}
	if o == u {
		return "", nil
	}
	return lineDiff(strings.Split(o, "\n"), strings.Split(u, "\n")), nil
}

// printFunc prints function fn ("Recv.Name" or "Name") of src, gofmt'ed,
// without its comments.
func printFunc(src []byte, fn string) (string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, 0) // no comments
	if err != nil {
		return "", err
	}
	d := findFunc(f, fn)
	if d == nil {
		return "", fmt.Errorf("no function %s", fn)
	}
	var b bytes.Buffer
	if err := (&printer.Config{Mode: printer.UseSpaces | printer.TabIndent, Tabwidth: 8}).Fprint(&b, fset, d); err != nil {
		return "", err
	}
	var lines []string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n"), nil
}

func findFunc(f *ast.File, fn string) *ast.FuncDecl {
	recv, name, ok := strings.Cut(fn, ".")
	if !ok {
		recv, name = "", fn
	}
	for _, decl := range f.Decls {
		d, ok := decl.(*ast.FuncDecl)
		if !ok || d.Name.Name != name {
			continue
		}
		got := ""
		if d.Recv != nil && len(d.Recv.List) == 1 {
			t := d.Recv.List[0].Type
			if s, ok := t.(*ast.StarExpr); ok {
				t = s.X
			}
			if id, ok := t.(*ast.Ident); ok {
				got = id.Name
			}
		}
		if got == recv {
			return d
		}
	}
	return nil
}

// lineDiff is a minimal longest-common-subsequence diff of a and b, with
// two lines of context around each change.
func lineDiff(a, b []string) string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var lines []string // each prefixed with ' ', '-' or '+'
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			lines = append(lines, " "+a[i])
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			lines = append(lines, "+"+b[j])
			j++
		default:
			lines = append(lines, "-"+a[i])
			i++
		}
	}
	const context = 2
	var out strings.Builder
	last := -1
	for k, l := range lines {
		near := false
		for d := max(0, k-context); d <= min(len(lines)-1, k+context); d++ {
			near = near || lines[d][0] != ' '
		}
		if !near {
			continue
		}
		if last >= 0 && k > last+1 {
			out.WriteString("...\n")
		}
		out.WriteString(l + "\n")
		last = k
	}
	return out.String()
}
