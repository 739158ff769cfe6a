package resolver

import (
	"reflect"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestParseTXT(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want map[string]string
	}{
		{"pairs", []string{"txtvers=1", "interface=a.B", "timeout=3000"}, map[string]string{"txtvers": "1", "interface": "a.B", "timeout": "3000"}},
		{"first occurrence wins, keys case-insensitive", []string{"Group=a", "group=b"}, map[string]string{"group": "a"}},
		{"a string without = is a key with no value", []string{"anyhost"}, map[string]string{"anyhost": ""}},
		{"an empty key is skipped", []string{"=x", "a=1"}, map[string]string{"a": "1"}},
		{"= inside a value is kept", []string{"q=a=b"}, map[string]string{"q": "a=b"}},
		{"split pairs are joined in order", []string{"methods=ab", "methods.3=ef", "methods.2=cd"}, map[string]string{"methods": "abcdef"}},
		{"a continuation without its first part is a key of its own", []string{"x.2=y"}, map[string]string{"x.2": "y"}},
		{"key.1 is a key of its own", []string{"k=a", "k.1=b"}, map[string]string{"k": "a", "k.1": "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseTXT(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseTXT(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// The server splits a pair over 255 bytes into key=, key.2=, ... (src/dubbo/metadata.ts).
func TestParseTXTJoinsALongValue(t *testing.T) {
	value := strings.Repeat("x", 600)
	in := []string{"methods=" + value[:247], "methods.2=" + value[247:492], "methods.3=" + value[492:]}
	if got := ParseTXT(in)["methods"]; got != value {
		t.Fatalf("joined %d bytes, want 600", len(got))
	}
}

// miekg/dns escapes TXT bytes for presentation; a round trip through the wire must give the
// original bytes back.
func TestRawTXTUndoesMiekgEscaping(t *testing.T) {
	for _, s := range []string{`plain`, `grüppe=中文`, `quote="x"`, `back\slash`, "tab\there", `\065 literal`} {
		rr := &dns.TXT{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{escapeForMiekg(s)}}
		m := new(dns.Msg)
		m.SetQuestion("x.", dns.TypeTXT)
		m.Answer = append(m.Answer, rr)
		wire, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		back := new(dns.Msg)
		if err := back.Unpack(wire); err != nil {
			t.Fatal(err)
		}
		if got := rawTXT(back.Answer[0].(*dns.TXT).Txt[0]); got != s {
			t.Errorf("round trip of %q gave %q", s, got)
		}
	}
}

// escapeForMiekg writes s in the escaped form miekg/dns packs byte for byte.
func escapeForMiekg(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			b.WriteString(`\` + string(rune('0'+c/100)) + string(rune('0'+c/10%10)) + string(rune('0'+c%10)))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
