package resolver

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var continuation = regexp.MustCompile(`^(.+)\.(\d+)$`)

// ParseTXT reads TXT strings into parameters the way the server writes them (RFC 6763 §6):
// each string is key=value, keys are case-insensitive, the first occurrence of a key wins,
// a string without '=' is a key with an empty value, and a value too long for one string
// continues in key.2=, key.3=, ... which are joined back in order.
func ParseTXT(strs []string) map[string]string {
	out := make(map[string]string, len(strs))
	continued := map[string]map[int]string{}
	for _, s := range strs {
		key, value, _ := strings.Cut(s, "=")
		key = jsLower(key)
		if key == "" {
			continue
		}
		if m := continuation.FindStringSubmatch(key); m != nil {
			if _, ok := out[m[1]]; ok {
				n, err := strconv.Atoi(m[2])
				if err == nil && n >= 2 {
					if continued[m[1]] == nil {
						continued[m[1]] = map[int]string{}
					}
					continued[m[1]][n] = value
					continue
				}
			}
		}
		if _, ok := out[key]; !ok {
			out[key] = value
		}
	}
	for key, parts := range continued {
		order := make([]int, 0, len(parts))
		for n := range parts {
			order = append(order, n)
		}
		sort.Ints(order)
		var b strings.Builder
		b.WriteString(out[key])
		for _, n := range order {
			b.WriteString(parts[n])
		}
		out[key] = b.String()
	}
	return out
}

// rawTXT undoes the presentation-format escaping miekg/dns applies to TXT strings
// (\" and \\ for quote and backslash, \DDD for other bytes outside printable ASCII), so
// UTF-8 values and values with quotes come back byte for byte.
func rawTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n <= 255 {
				b = append(b, byte(n))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
