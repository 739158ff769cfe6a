package resolver

import (
	"crypto/sha256"
	"encoding/base32"
	"regexp"
	"strings"
	"unicode"
)

// The service label S is a contract shared with the dubbo-dns server (src/dubbo/naming.ts):
// changing anything here makes clients ask for names nobody publishes. Table tests pin it
// with the server's own vectors.

const (
	hashLength = 10
	partsMax   = 52
	partMax    = 16
)

var (
	lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
	nonAlnumRun = regexp.MustCompile(`[^a-z0-9]+`)
	dashRun     = regexp.MustCompile(`-{2,}`)
	labelRe     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// ServiceKey identifies a Dubbo service; empty strings stand for an absent group or version.
type ServiceKey struct {
	Interface string
	Group     string
	Version   string
}

// String spells the key the way Dubbo does: group/interface:version, parts omitted when empty.
func (k ServiceKey) String() string {
	out := k.Interface
	if k.Group != "" {
		out = k.Group + "/" + out
	}
	if k.Version != "" {
		out += ":" + k.Version
	}
	return out
}

// ServiceHash is the 10-character hash h of a key: lowercase unpadded base32 of
// SHA-256("dubbo" NUL interface NUL group NUL version).
func ServiceHash(k ServiceKey) string {
	sum := sha256.Sum256([]byte("dubbo\x00" + k.Interface + "\x00" + k.Group + "\x00" + k.Version))
	return lowerBase32.EncodeToString(sum[:])[:hashLength]
}

// Slug lowercases text, turns every run of characters outside [a-z0-9] into one '-' and
// trims '-' at both ends.
func Slug(text string) string {
	return strings.Trim(nonAlnumRun.ReplaceAllString(jsLower(text), "-"), "-")
}

// jsLower lowercases the way the server's JavaScript String.prototype.toLowerCase does.
// The only difference from Go's simple case mapping that can reach [a-z0-9] is U+0130
// (capital I with dot above), which Unicode's SpecialCasing lowercases to "i" plus a
// combining dot, not to a bare "i".
func jsLower(text string) string {
	if !strings.ContainsRune(text, '\u0130') {
		return strings.ToLower(text)
	}
	var b strings.Builder
	for _, r := range text {
		if r == '\u0130' {
			b.WriteString("i\u0307")
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// ServiceLabel is the label S of a key: a DNS-1035 label of at most 63 characters, also
// the name of the Kubernetes Service that dubbo-dns manages for the key.
func ServiceLabel(k ServiceKey) string {
	simple := k.Interface[strings.LastIndex(k.Interface, ".")+1:]
	parts := []string{Slug(simple)}
	if k.Group != "" {
		parts = append(parts, cut(Slug(k.Group), partMax))
	}
	if k.Version != "" {
		parts = append(parts, cut("v"+Slug(k.Version), partMax))
	}
	nonEmpty := parts[:0]
	for _, p := range parts {
		if p != "" {
			nonEmpty = append(nonEmpty, p)
		}
	}
	joined := dashRun.ReplaceAllString(strings.Join(nonEmpty, "-"), "-")
	switch {
	case joined == "":
		joined = "d"
	case joined[0] < 'a' || joined[0] > 'z':
		joined = "d-" + joined
	}
	joined = strings.TrimRight(cut(joined, partsMax), "-")
	return joined + "-" + ServiceHash(k)
}

// cut keeps the first n bytes of an ASCII string (slugs are ASCII).
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// EndpointLabel is the label E of one endpoint: its hostname when that is a usable DNS
// label, else its address with '.' and ':' written as '-'.
func EndpointLabel(address, hostname string) string {
	if hostname != "" && labelRe.MatchString(strings.ToLower(hostname)) {
		return strings.ToLower(hostname)
	}
	return AddressLabel(address)
}

// AddressLabel writes an address as a DNS label ("10.0.0.11" is "10-0-0-11").
func AddressLabel(address string) string {
	return strings.NewReplacer(".", "-", ":", "-").Replace(strings.ToLower(address))
}

// NormalizeZone lowercases a zone name and gives it exactly one trailing dot.
func NormalizeZone(zone string) string {
	return strings.TrimRight(strings.ToLower(strings.TrimSpace(zone)), ".") + "."
}

// Names are the DNS names dubbo-dns publishes for one key in one namespace (absolute).
type Names struct {
	// Label is the service label S.
	Label string
	// Hash is the key's hash h, the end of Label.
	Hash string
	// Service is S.N.Z: A, AAAA, SRV (every ready endpoint of the service's protocol) and TXT.
	Service string
	// ProtocolSRV is _P._tcp.S.N.Z: SRV of the endpoints serving protocol P.
	ProtocolSRV string
	// Instance is S._dubbo._tcp.N.Z, the DNS-SD (RFC 6763) instance name.
	Instance string
	// Browse is _dubbo._tcp.N.Z, the DNS-SD browse name of the namespace.
	Browse string
}

// NamesOf computes the names of a key in namespace and zone; protocol names the
// ProtocolSRV name ("dubbo" when empty).
func NamesOf(k ServiceKey, namespace, zone, protocol string) Names {
	z := NormalizeZone(zone)
	if protocol == "" {
		protocol = "dubbo"
	}
	label := ServiceLabel(k)
	service := label + "." + namespace + "." + z
	return Names{
		Label:       label,
		Hash:        ServiceHash(k),
		Service:     service,
		ProtocolSRV: "_" + protocol + "._tcp." + service,
		Instance:    label + "._dubbo._tcp." + namespace + "." + z,
		Browse:      "_dubbo._tcp." + namespace + "." + z,
	}
}
