package resolver

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

var dns1035 = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// The first rows are test/unit/naming.test.ts's vectors (the server's own); the rest were
// computed by the server's naming code for cases where Go and JavaScript lowercase differently.
func TestServiceLabel(t *testing.T) {
	tests := []struct {
		name  string
		key   ServiceKey
		label string
	}{
		{"the worked example", ServiceKey{"org.apache.dubbo.demo.DemoService", "gray", "1.0.0"}, "demoservice-gray-v1-0-0-gvbnf6n34g"},
		{"empty group and version", ServiceKey{"org.apache.dubbo.demo.DemoService", "", ""}, "demoservice-dcs5nvrs5z"},
		{"a simple name starting with a digit gets d-", ServiceKey{"com.example.3dService", "", ""}, "d-3dservice-ev62fkr4bj"},
		{"non-ASCII becomes -", ServiceKey{"com.example.Ümlaut", "grüppe", "1.0"}, "mlaut-gr-ppe-v1-0-vylcm2uz6o"},
		{"a 200-character interface is cut to 52", ServiceKey{"com.x." + strings.Repeat("A", 200), "", ""}, strings.Repeat("a", 52) + "-fjpyo47m52"},
		{"an empty interface is d", ServiceKey{"", "", ""}, "d-vdbb7it24z"},
		{"nothing left after slug is d", ServiceKey{"com.example.___", "", ""}, "d-lvgmzk6kyy"},
		{"group and version cut to 16, repeated - collapsed", ServiceKey{"Foo", "very-long-group-name-exceeding", "2024.01.15-SNAPSHOT"}, "foo-very-long-group-v2024-01-15-snap-4tq6cjkpfy"},
		{"a version that slugs to nothing is just v", ServiceKey{"com.example.Foo", "g", "-"}, "foo-g-v-2pqt6v76xp"},
		{"capital I with dot lowercases to i and a combining dot", ServiceKey{"com.example.İnfo", "İx", ""}, "i-nfo-i-x-xdrbtm26s2"},
		{"the Kelvin sign lowercases to k", ServiceKey{"com.example.\u212Aelvin", "", "\u212A1"}, "kelvin-vk1-wpb2vvonat"},
		{"only non-ASCII is d", ServiceKey{"中文.服务", "", ""}, "d-s7xek7pvip"},
		{"a group cut to 16 ending in - is collapsed", ServiceKey{"com.example.Foo", "group-with-dash-", "1.0"}, "foo-group-with-dash-v1-0-kqbsfoarq2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ServiceLabel(tt.key)
			if got != tt.label {
				t.Fatalf("ServiceLabel(%+v) = %q, want %q", tt.key, got, tt.label)
			}
			if len(got) > 63 || !dns1035.MatchString(got) {
				t.Fatalf("%q is not a DNS-1035 label of at most 63 characters", got)
			}
		})
	}
}

func TestServiceHashAndBase32(t *testing.T) {
	if got := ServiceHash(ServiceKey{"org.apache.dubbo.demo.DemoService", "gray", "1.0.0"}); got != "gvbnf6n34g" {
		t.Fatalf("hash = %q", got)
	}
	// RFC 4648 §10 vectors, lowercase and unpadded.
	for in, want := range map[string]string{"foobar": "mzxw6ytboi", "f": "my"} {
		if got := lowerBase32.EncodeToString([]byte(in)); got != want {
			t.Errorf("base32(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEveryLabelIsValid(t *testing.T) {
	weird := []string{"", ".", "...", "-", "9", "ä.ö.ü", strings.Repeat("a", 300), "x.Y-Z_1", "中文.服务"}
	for _, i := range weird {
		for _, g := range weird {
			for _, v := range []string{"", "1", "..", strings.Repeat("ü", 40)} {
				label := ServiceLabel(ServiceKey{i, g, v})
				if len(label) > 63 || !dns1035.MatchString(label) {
					t.Fatalf("ServiceLabel(%q, %q, %q) = %q", i, g, v, label)
				}
			}
		}
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{"--Hello__World..2--": "hello-world-2", "ÄÖÜ": ""} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNamesOf(t *testing.T) {
	got := NamesOf(ServiceKey{"org.apache.dubbo.demo.DemoService", "gray", "1.0.0"}, "shop", "Dubbo.Internal", "tri")
	want := Names{
		Label:       "demoservice-gray-v1-0-0-gvbnf6n34g",
		Hash:        "gvbnf6n34g",
		Service:     "demoservice-gray-v1-0-0-gvbnf6n34g.shop.dubbo.internal.",
		ProtocolSRV: "_tri._tcp.demoservice-gray-v1-0-0-gvbnf6n34g.shop.dubbo.internal.",
		Instance:    "demoservice-gray-v1-0-0-gvbnf6n34g._dubbo._tcp.shop.dubbo.internal.",
		Browse:      "_dubbo._tcp.shop.dubbo.internal.",
	}
	if got != want {
		t.Fatalf("NamesOf = %+v\nwant %+v", got, want)
	}
	if p := NamesOf(ServiceKey{Interface: "a.B"}, "default", "dubbo.internal.", "").ProtocolSRV; !strings.HasPrefix(p, "_dubbo._tcp.") {
		t.Fatalf("default protocol SRV name %q", p)
	}
}

func TestEndpointLabel(t *testing.T) {
	tests := []struct{ address, hostname, want string }{
		{"10.0.0.11", "demo-0", "demo-0"},
		{"10.0.0.11", "Demo-0", "demo-0"},
		{"10.0.0.11", "", "10-0-0-11"},
		{"fd00::12", "", "fd00--12"},
		{"10.0.0.11", "pod.with.dots", "10-0-0-11"},
	}
	for _, tt := range tests {
		if got := EndpointLabel(tt.address, tt.hostname); got != tt.want {
			t.Errorf("EndpointLabel(%q, %q) = %q, want %q", tt.address, tt.hostname, got, tt.want)
		}
	}
}

func TestServiceKeyString(t *testing.T) {
	if got := (ServiceKey{"a.B", "g", "1"}).String(); got != "g/a.B:1" {
		t.Fatalf("got %q", got)
	}
	if got := (ServiceKey{Interface: "a.B"}).String(); got != "a.B" {
		t.Fatalf("got %q", got)
	}
}

// TestNamingVectorsFile compares against labels the server computed for generated keys
// (test/consumers/go-unit.test.ts writes the file and sets DUBBO_DNS_NAMING_VECTORS).
func TestNamingVectorsFile(t *testing.T) {
	path := os.Getenv("DUBBO_DNS_NAMING_VECTORS")
	if path == "" {
		t.Skip("DUBBO_DNS_NAMING_VECTORS not set (the Node test suite sets it)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Interface, Group, Version, Label string
	}
	if err := json.Unmarshal(data, &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("no vectors in " + path)
	}
	for _, r := range rows {
		k := ServiceKey{r.Interface, r.Group, r.Version}
		if got := ServiceLabel(k); got != r.Label {
			t.Errorf("ServiceLabel(%q) = %q, the server says %q", []string{r.Interface, r.Group, r.Version}, got, r.Label)
		}
	}
}
