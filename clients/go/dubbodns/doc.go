// Package dubbodns is a dubbo-go v3 registry that discovers providers through dubbo-dns.
//
// Importing it registers the registry "dubbodns" with dubbo-go:
//
//	import _ "github.com/dubbo-dns/dubbo-dns/clients/go/dubbodns"
//
// A consumer then names it like any other registry, with interface-level registry type:
//
//	dubbo.WithRegistry(
//		registry.WithID("dns"),
//		registry.WithAddress("dubbodns://127.0.0.1:5353?zone=dubbo.internal.&namespace=shop"),
//		registry.WithRegisterInterface(),
//	)
//
// For each reference it resolves the service's dubbo-dns name (SRV, A/AAAA, TXT), hands
// the providers to dubbo-go's directory, re-resolves at the records' TTL and notifies the
// directory only when the providers change. When dubbo-dns cannot be reached the last
// known providers stay. It never registers anything: publishing providers is the
// dubbo-dns controller's job, so Register and UnRegister do nothing.
package dubbodns
