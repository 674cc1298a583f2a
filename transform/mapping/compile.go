package mapping

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tributary-cdc/tributary/transform"
)

// Option configures Compile.
type Option func(*options)

type options struct {
	prefix    string
	prefixSet bool
	readFile  func(string) ([]byte, error)
	sources   []string // nil: not checked
}

// WithTopicPrefix is the daemon's topics.prefix. It is required when a
// mapping sets an entity but no topic: such events go to
// <prefix>.<source>.<database>.<entity>, named like every other topic
// (transform.TopicName).
func WithTopicPrefix(prefix string) Option {
	return func(o *options) { o.prefix, o.prefixSet = prefix, true }
}

// WithSources names the configured sources, so that a mapping's source
// that names none of them is an error rather than a mapping that never
// applies.
func WithSources(names ...string) Option {
	return func(o *options) { o.sources = append([]string{}, names...) }
}

// WithReadFile replaces os.ReadFile for salt_file (tests).
func WithReadFile(read func(string) ([]byte, error)) Option {
	return func(o *options) { o.readFile = read }
}

// Mapper holds compiled mappings. Apply is safe for concurrent use.
type Mapper struct {
	rules  []*rules
	prefix string

	mu     sync.RWMutex
	plans  map[tableID]*plan // nil value: the table has no mapping
	claims map[string]claim  // shared topic → first table routed to it
}

// rules is one compiled Config.
type rules struct {
	index   int
	pattern string
	source  string
	entity  string
	topic   string // explicit topic; "" with entity: per-table entity topic

	includeSource bool
	keyFields     []string

	filter *filter
	cols   map[string]*column // by source column name
	add    transform.Row      // sorted by name
	// produced lists output names that rename or add introduce, with their
	// rule, to check at run time that they do not clash with other columns.
	produced []producedName
}

type producedName struct{ name, rule string }

// column holds every rule about one source column.
type column struct {
	out      string // output name: renamed or the source name
	cast     caster
	castRule string
	castTo   Cast // the cast's config, for OutputSchema
	mask     masker
	maskRule string
	maskKind MaskKind
	drop     bool
}

func (r *rules) describe() string { return fmt.Sprintf("mappings[%d] (%s)", r.index, r.pattern) }

// shared reports whether several tables may be routed to the rule's topic.
func (r *rules) shared() bool { return r.topic != "" || r.entity != "" }

var (
	// entityName is also written raw into the event JSON, so it must need
	// no escaping; it is one topic part, so it allows no dot.
	entityName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
	topicName  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)
)

// Compile validates and compiles cfgs. env looks up environment variables
// (os.LookupEnv) for salt_env. Every problem is reported, each naming the
// mapping, its table pattern and the rule:
//
//	mappings[2] (crm.t_cust): mask.phone: unknown kind "scramble" (want hash, redact, keep_last)
func Compile(cfgs []Config, env func(string) (string, bool), opts ...Option) (*Mapper, error) {
	o := options{readFile: os.ReadFile}
	for _, opt := range opts {
		opt(&o)
	}
	m := &Mapper{prefix: o.prefix, plans: map[tableID]*plan{}, claims: map[string]claim{}}
	var errs []error
	for i := range cfgs {
		r, err := compileOne(i, &cfgs[i], env, &o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.rules = append(m.rules, r)
	}
	errs = append(errs, checkSharedTopics(m.rules)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

func compileOne(i int, c *Config, env func(string) (string, bool), o *options) (*rules, error) {
	r := &rules{index: i, pattern: c.Table, source: c.Source, entity: c.Entity, topic: c.Topic, cols: map[string]*column{}}
	var errs []error
	bad := func(rule, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", r.describe(), rule, fmt.Sprintf(format, args...)))
	}
	col := func(name string) *column {
		c, ok := r.cols[name]
		if !ok {
			c = &column{out: name}
			r.cols[name] = c
		}
		return c
	}

	switch _, err := path.Match(c.Table, ""); {
	case c.Table == "":
		bad("table", `is required: a "db.table" glob`)
	case err != nil:
		bad("table", "bad glob: %v", err)
	case !strings.Contains(c.Table, "."):
		bad("table", `want "db.table" (a glob such as crm.customers or shop_*.orders)`)
	}
	if c.Source != "" && o.sources != nil && !slices.Contains(o.sources, c.Source) {
		bad("source", "%q is not a configured source (%s)", c.Source, strings.Join(o.sources, ", "))
	}
	if c.Entity != "" && !entityName.MatchString(c.Entity) {
		bad("entity", "%q: want 1-128 of A-Z, a-z, 0-9, _ and -, starting with a letter or digit", c.Entity)
	}
	if c.Entity != "" && c.Topic == "" && !o.prefixSet {
		bad("entity", "routing by entity needs the topic prefix (mapping.WithTopicPrefix); or set topic")
	}
	if c.Topic != "" && (!topicName.MatchString(c.Topic) || c.Topic == "." || c.Topic == "..") {
		bad("topic", "%q: want 1-249 of A-Z, a-z, 0-9, '.', '_' and '-'", c.Topic)
	}

	if c.Filter != "" {
		f, err := compileFilter(c.Filter)
		if err != nil {
			bad("filter", "%v", err)
		}
		r.filter = f
	}
	for _, name := range sortedKeys(c.Cast) {
		rule := "cast." + name
		cs, err := compileCast(c.Cast[name])
		if err != nil {
			bad(rule, "%v", err)
			continue
		}
		cc := col(name)
		cc.cast, cc.castRule, cc.castTo = cs, rule, c.Cast[name]
		if cc.castTo.To == "" {
			cc.castTo.To = CastTimestamp // {timezone: …} alone
		}
	}
	for _, name := range sortedKeys(c.Mask) {
		rule := "mask." + name
		mk, err := compileMask(c.Mask[name], env, o.readFile)
		if err != nil {
			bad(rule, "%v", err)
			continue
		}
		mc := col(name)
		mc.mask, mc.maskRule, mc.maskKind = mk, rule, c.Mask[name].Kind
	}
	targets := map[string]string{}
	for _, name := range sortedKeys(c.Rename) {
		to, rule := c.Rename[name], "rename."+name
		switch {
		case to == "" || !utf8.ValidString(to):
			bad(rule, "want a non-empty UTF-8 field name")
			continue
		case targets[to] != "":
			bad(rule, "%q is also the new name of %s", to, targets[to])
			continue
		}
		targets[to] = name
		col(name).out = to
		if to != name {
			r.produced = append(r.produced, producedName{to, rule})
		}
	}
	for _, name := range c.Drop {
		rule := "drop." + name
		cc := r.cols[name]
		switch {
		case name == "":
			bad("drop", "empty column name")
		case cc != nil && cc.drop:
			bad(rule, "listed twice")
		case cc != nil && (cc.cast != nil || cc.mask != nil || cc.out != name):
			bad(rule, "the column also has a cast, mask or rename rule; drop it or keep it")
		default:
			col(name).drop = true
		}
	}
	for _, name := range sortedKeys(c.Add) {
		rule := "add." + name
		v, err := staticValue(c.Add[name])
		switch {
		case name == "" || !utf8.ValidString(name):
			bad("add", "want non-empty UTF-8 field names")
		case err != nil:
			bad(rule, "%v", err)
		case targets[name] != "":
			bad(rule, "%q is also the new name of %s", name, targets[name])
		default:
			r.add = append(r.add, transform.Field{Name: name, Value: v})
			r.produced = append(r.produced, producedName{name, rule})
		}
	}
	compileKey(r, c, bad)
	if len(r.cols) == 0 {
		r.cols = nil
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

func compileKey(r *rules, c *Config, bad func(rule, format string, args ...any)) {
	r.keyFields = c.Key.Fields
	r.includeSource = r.topic != "" && len(r.keyFields) == 0
	if c.Key.IncludeSource != nil {
		r.includeSource = *c.Key.IncludeSource
	}
	seen := map[string]bool{}
	for _, f := range r.keyFields {
		rule := "key.fields." + f
		switch {
		case f == "":
			bad("key.fields", "empty field name")
		case seen[f]:
			bad(rule, "listed twice")
		case r.includeSource && f == "source":
			bad(rule, `clashes with the "source" field that include_source adds; rename the column`)
		}
		seen[f] = true
		if cc := r.cols[f]; cc != nil && cc.drop && !r.produces(f) {
			bad(rule, "the column is dropped")
		}
	}
}

// checkSharedTopics refuses explicit topics shared by mappings whose keys
// can collide. Apply checks the same for the actual tables (and for entity
// topics) when it first sees them; this catches what the config alone shows.
func checkSharedTopics(rs []*rules) []error {
	var errs []error
	byTopic := map[string]*rules{}
	for _, r := range rs {
		if r.topic == "" {
			continue
		}
		first, ok := byTopic[r.topic]
		if !ok {
			byTopic[r.topic] = r
			continue
		}
		if keysMayCollide(first.keyKind(), first.source, r.keyKind(), r.source) {
			errs = append(errs, fmt.Errorf("%s: topic: %s is also the topic of %s and their keys can collide: "+
				"set key.include_source with a different source on each, or key.fields on both", r.describe(), r.topic, first.describe()))
		}
	}
	return errs
}

type keyKind uint8

const (
	keyTable       keyKind = iota // the table's key, as it is
	keyWithSource                 // {"source":…} + the table's key
	keyFieldsBased                // configured canonical fields
)

func (r *rules) keyKind() keyKind {
	switch {
	case len(r.keyFields) > 0:
		return keyFieldsBased
	case r.includeSource:
		return keyWithSource
	}
	return keyTable
}

// keysMayCollide reports whether two different tables on one topic may
// produce equal keys for different rows. Canonical fields are meant to be
// shared (that is how two systems' rows of one entity merge); the table's
// own keys are told apart only by different sources. Mixing kinds is
// refused: a canonical key could equal a table key.
func keysMayCollide(a keyKind, srcA string, b keyKind, srcB string) bool {
	switch {
	case a == keyFieldsBased && b == keyFieldsBased:
		return false
	case a == keyWithSource && b == keyWithSource:
		return srcA == "" || srcA == srcB
	}
	return true
}

// staticValue converts a YAML scalar to a canonical value.
func staticValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, bool, string, int64, uint64, float64:
		if s, ok := v.(string); ok && !utf8.ValidString(s) {
			return nil, errors.New("invalid UTF-8")
		}
		return v, nil
	case int:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case uint:
		return uint64(v), nil
	case float32:
		return float64(v), nil
	}
	return nil, fmt.Errorf("%T: want a string, number, bool or null (quote dates and times)", v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// produces reports whether rename or add introduces the output name.
func (r *rules) produces(name string) bool {
	return slices.ContainsFunc(r.produced, func(p producedName) bool { return p.name == name })
}
