package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform/debezium"
)

// Source is one database to capture. The keys every kind shares that the
// configuration itself uses are fields here; the rest of the entry is the
// kind's own (capture.Registration.NewSettings), decoded into Settings.
type Source struct {
	// Name identifies the source in topics, event ids and checkpoints; it
	// must not change once events were produced.
	Name string `yaml:"name"`
	// Kind is the source type: mysql (MySQL or MariaDB, the default) or
	// postgres.
	Kind capture.Kind `yaml:"kind"`
	// PasswordEnv and PasswordFile say where the password comes from;
	// Password inline is accepted for local demos only.
	PasswordEnv    string `yaml:"password_env"`
	PasswordFile   string `yaml:"password_file"`
	InlinePassword string `yaml:"password"`

	// Format is native (Tributary's canonical event, the default) or
	// debezium (Debezium's JsonConverter envelope; see docs/debezium.md).
	Format   string   `yaml:"format"`
	Debezium Debezium `yaml:"debezium"`
	// Avro tunes format avro.
	Avro Avro `yaml:"avro"`

	// Accuracy configures the source's accuracy monitor (off by default).
	Accuracy Accuracy `yaml:"accuracy"`

	// Prefer names the cluster member (cluster.member) that should own
	// this source when it is in the group; a hint, only with cluster:.
	Prefer string `yaml:"prefer"`

	// Settings are the kind's settings (addr, user, include, exclude,
	// snapshot, tls, …), defaults applied; nil when Kind is unknown.
	Settings capture.Settings `yaml:"-"`

	// foreign lists the keys of the entry that belong to another kind.
	foreign []string
}

// Registration is the registration of the source's kind.
func (s Source) Registration() (capture.Registration, bool) { return capture.Lookup(s.Kind) }

// Debezium tunes the debezium output format of a source.
type Debezium struct {
	Schemas        bool   `yaml:"schemas"`         // JsonConverter schemas.enable
	Connector      string `yaml:"connector"`       // mysql | mariadb | postgresql; default from the source
	TopicPrefix    string `yaml:"topic_prefix"`    // Debezium topic.prefix; default the source name
	BigintUnsigned string `yaml:"bigint_unsigned"` // long (default) | precise
}

// Avro tunes the avro output format of a source.
type Avro struct {
	// Envelope is native (the canonical event's fields, the default) or
	// debezium (Debezium's Avro envelope, as its AvroConverter writes it,
	// named and tuned by the debezium: keys).
	Envelope string `yaml:"envelope"`
}

// eventFlavour is the shape of the source's events whatever their bytes:
// native, or debezium (format debezium, or avro with the Debezium envelope).
func (s Source) eventFlavour() string {
	if s.Format == "debezium" || (s.Format == "avro" && s.Avro.Envelope == "debezium") {
		return "debezium"
	}
	return "native"
}

// DebeziumOptions returns the encoder options for a debezium-format source.
func (s Source) DebeziumOptions() debezium.Options {
	o := debezium.Options{
		Schemas: s.Debezium.Schemas, ConnectorName: s.Debezium.Connector, TopicPrefix: s.Debezium.TopicPrefix,
		BigintUnsigned: debezium.BigintUnsignedMode(s.Debezium.BigintUnsigned),
	}
	var connector string
	if reg, ok := s.Registration(); ok && s.Settings != nil {
		connector, o.Database = reg.Debezium(s.Settings)
	}
	if o.ConnectorName == "" {
		o.ConnectorName = connector
	}
	if o.TopicPrefix == "" {
		o.TopicPrefix = s.Name
	}
	if o.BigintUnsigned == "" {
		o.BigintUnsigned = debezium.BigintUnsignedLong
	}
	return o
}

// Password resolves the source's password from its env var or file. A
// password written inline in the config is accepted for local demos.
func (s Source) Password() (string, error) {
	switch {
	case s.PasswordEnv != "":
		v, ok := os.LookupEnv(s.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("sources[%s].password_env: environment variable %s is not set", s.Name, s.PasswordEnv)
		}
		return v, nil
	case s.PasswordFile != "":
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("sources[%s].password_file: %w", s.Name, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	default:
		return s.InlinePassword, nil
	}
}

// UnmarshalYAML decodes a sources[] entry: the shared keys into s, the rest
// into the settings of the entry's kind. Keys of another kind are kept for
// Validate to name; a key no kind has fails the decode, and Parse then
// names it by its path (walkSource).
func (s *Source) UnmarshalYAML(n *yaml.Node) error {
	type plain Source // the same fields without this method
	var p plain
	var typeErrs []string
	keepTypeErrors := func(err error) error {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return err
		}
		for _, e := range te.Errors { // keys in both types report once
			if !slices.Contains(typeErrs, e) {
				typeErrs = append(typeErrs, e)
			}
		}
		return nil
	}
	if err := keepTypeErrors(n.Decode(&p)); err != nil {
		return err
	}
	*s = Source(p)
	if s.Kind == "" {
		s.Kind = capture.DefaultKind
	}
	if reg, ok := s.Registration(); ok {
		settings := reg.NewSettings()
		if err := keepTypeErrors(n.Decode(settings)); err != nil {
			return err
		}
		s.Settings = settings
	}
	if len(typeErrs) > 0 {
		return &yaml.TypeError{Errors: typeErrs} // yaml.v3 gathers these and goes on
	}
	var unknown []string
	if s.foreign = walkSource(n, "", &unknown); len(unknown) > 0 {
		return errors.New(strings.Join(unknown, "; "))
	}
	return nil
}

// defaults fills the kind's optional settings.
func (s *Source) defaults() {
	s.Accuracy.defaults()
	if reg, ok := s.Registration(); ok && s.Settings != nil {
		reg.Defaults(s.Settings, s.Name)
	}
}

// validateKind checks the kind's settings; ids collects the binlog
// server_ids seen so far, which must differ between sources.
func (s Source) validateKind(key string, ids map[uint32]string) []error {
	reg, ok := s.Registration()
	if !ok {
		return []error{fmt.Errorf("%s.kind %q: want %s", key, s.Kind, kindList())}
	}
	if s.Settings == nil {
		return []error{fmt.Errorf("%s: no settings for kind %s", key, s.Kind)}
	}
	var errs []error
	if err := s.Settings.Validate(key); err != nil {
		errs = append(errs, err)
	}
	if reg.UsesServerID() {
		id := reg.ServerID(s.Settings)
		if other, ok := ids[id]; ok && id != 0 {
			errs = append(errs, fmt.Errorf("%s.server_id %d is also used by source %s: each binlog reader needs its own", key, id, other))
		}
		ids[id] = s.Name
	}
	for _, k := range s.foreign {
		errs = append(errs, fmt.Errorf("%s.%s does not apply to kind %s", key, k, s.Kind))
	}
	return errs
}

// kindList is "mysql or postgres", from the registry.
func kindList() string {
	kinds := capture.Kinds()
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

var sourceType = reflect.TypeOf(Source{})

// walkSource is walkUnknown for a sources[] entry, whose keys are Source's
// and those of its kind's settings (every kind's when the kind is
// unknown). It returns the keys that belong to another kind instead of
// reporting them: Validate says they do not apply.
func walkSource(n *yaml.Node, path string, out *[]string) (foreign []string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	kind := capture.DefaultKind
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" && n.Content[i+1].Value != "" {
			kind = capture.Kind(n.Content[i+1].Value)
		}
	}
	own := yamlFields(sourceType)
	other := map[string]bool{}
	_, known := capture.Lookup(kind)
	for _, k := range capture.Kinds() {
		reg, _ := capture.Lookup(k)
		for key, t := range yamlFields(reflect.TypeOf(reg.NewSettings()).Elem()) {
			if k == kind || !known {
				own[key] = t
			} else {
				other[key] = true
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if ft, ok := own[k.Value]; ok {
			walkUnknown(v, ft, join(path, k.Value), out)
			continue
		}
		switch {
		case k.Value == "<<": // a merge key, which yaml.v3 expands
		case other[k.Value]:
			foreign = append(foreign, k.Value)
		default:
			msg := fmt.Sprintf("%s (line %d) is not a known key", join(path, k.Value), k.Line)
			if near := closest(k.Value, own); near != "" {
				msg += "; did you mean " + join(path, near) + "?"
			}
			*out = append(*out, msg)
		}
	}
	return foreign
}
