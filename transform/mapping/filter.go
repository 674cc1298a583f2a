package mapping

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/tributary-cdc/tributary/transform"
)

// filter is a compiled filter expression. It is evaluated on one row state
// at a time (see Apply): after is the state tested, before the other image
// or null.
type filter struct {
	program *vm.Program
	// names lists the columns the expression reads, when it reads before and
	// after only by constant member names (after.status, after["x"]); then
	// only those columns are put in the maps. all is set otherwise.
	names []string
	all   bool
	pool  sync.Pool // *filterState
}

// filterState is one evaluation's reusable VM and maps.
type filterState struct {
	vm            vm.VM
	env           map[string]any
	before, after map[string]any
}

// filterEnv declares the variables for the type checker; values are
// canonical Go values (DECIMAL as strings, TINYINT(1) as integers).
var filterEnv = map[string]any{"op": "", "before": map[string]any{}, "after": map[string]any{}}

func compileFilter(src string) (*filter, error) {
	program, err := expr.Compile(src, expr.Env(filterEnv), expr.AsBool())
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("%s (at column %d of %q)", fe.Message, fe.Column+1, src)
		}
		return nil, fmt.Errorf("%v (in %q)", err, src)
	}
	f := &filter{program: program}
	var u usage
	node := program.Node()
	ast.Walk(&node, &u)
	f.names, f.all = u.names, u.images != u.static
	f.pool.New = func() any {
		return &filterState{env: make(map[string]any, 3), before: map[string]any{}, after: map[string]any{}}
	}
	return f, nil
}

// usage finds how an expression reads the before and after images.
type usage struct {
	images int // identifiers before/after
	static int // of them, bases of a member access by constant name
	names  []string
}

func (u *usage) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value == "before" || n.Value == "after" {
			u.images++
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok || (id.Value != "before" && id.Value != "after") {
			return
		}
		if s, ok := n.Property.(*ast.StringNode); ok {
			u.static++
			if !slices.Contains(u.names, s.Value) {
				u.names = append(u.names, s.Value)
			}
		}
	}
}

// match evaluates the filter with after as the tested row state. A nil
// Row is null in the expression (before?.x is nil then).
func (f *filter) match(op string, before, after transform.Row) (bool, error) {
	st := f.pool.Get().(*filterState)
	defer f.pool.Put(st)
	st.env["op"] = boxOp(op)
	st.env["before"] = f.fill(st.before, before)
	st.env["after"] = f.fill(st.after, after)
	out, err := st.vm.Run(f.program, st.env)
	clear(st.before)
	clear(st.after)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		// AsBool makes the checker refuse non-bool results where it can; a
		// dynamic value (after.flag) can still be anything at run time.
		return false, fmt.Errorf("result is %T, not bool", out)
	}
	return b, nil
}

// boxOp returns op as an interface without allocating for the known ops.
func boxOp(op string) any {
	switch op {
	case "c":
		return "c"
	case "u":
		return "u"
	case "d":
		return "d"
	case "r":
		return "r"
	}
	return op
}

func (f *filter) fill(m map[string]any, row transform.Row) map[string]any {
	if row == nil {
		return map[string]any(nil)
	}
	for _, fd := range row {
		if f.all || slices.Contains(f.names, fd.Name) {
			m[fd.Name] = fd.Value
		}
	}
	return m
}
