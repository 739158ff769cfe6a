// Command consumer calls greet.GreetService through dubbo-go with the registries given as
// -registry flags (dubbodns://..., zookeeper://...), makes -calls calls -interval apart and
// prints one JSON line per call: {"call":1,"ok":true,"provider":"127.0.0.1:20000","ms":2}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"dubbo.apache.org/dubbo-go/v3"
	"dubbo.apache.org/dubbo-go/v3/client"
	_ "dubbo.apache.org/dubbo-go/v3/imports"
	"dubbo.apache.org/dubbo-go/v3/registry"

	"github.com/dubbo-dns/dubbo-dns/clients/go/dubbodns"
	"github.com/dubbo-dns/dubbo-dns/clients/go/examples/greeter"
)

type registries []string

func (r *registries) String() string     { return strings.Join(*r, ",") }
func (r *registries) Set(v string) error { *r = append(*r, v); return nil }

// result is one call's line of output.
type result struct {
	Call     int    `json:"call"`
	OK       bool   `json:"ok"`
	Provider string `json:"provider,omitempty"`
	Error    string `json:"error,omitempty"`
	Ms       int64  `json:"ms"`
	At       int64  `json:"at"`
}

func main() {
	var regs registries
	flag.Var(&regs, "registry", "registry address, repeatable: dubbodns://HOST:PORT?zone=Z&namespace=N, zookeeper://HOST:PORT")
	calls := flag.Int("calls", 40, "number of calls")
	interval := flag.Duration("interval", 250*time.Millisecond, "time between the starts of two calls")
	timeout := flag.Duration("timeout", time.Second, "timeout of one call")
	flag.Parse()
	if len(regs) == 0 {
		log.Fatal("give at least one -registry")
	}

	opts := []dubbo.InstanceOption{dubbo.WithName("greeter-consumer")}
	for i, addr := range regs {
		scheme, _, _ := strings.Cut(addr, "://")
		id := registry.WithID(fmt.Sprintf("%s%d", scheme, i))
		if scheme == dubbodns.Name {
			opts = append(opts, dubbo.WithRegistry(id, dubbodns.WithAddress(addr)))
			continue
		}
		opts = append(opts, dubbo.WithRegistry(
			id,
			registry.WithAddress(addr),
			// Interface level, where the provider registers (registry.WithRegisterInterface()).
			registry.WithRegisterInterface(),
		))
	}
	ins, err := dubbo.NewInstance(opts...)
	if err != nil {
		log.Fatal(err)
	}
	cli, err := ins.NewClient(client.WithClientRequestTimeout(*timeout))
	if err != nil {
		log.Fatal(err)
	}
	svc, err := greeter.NewClient(cli)
	if err != nil {
		log.Fatal(err)
	}

	out := json.NewEncoder(os.Stdout)
	next := time.Now()
	for i := 1; i <= *calls; i++ {
		time.Sleep(time.Until(next))
		next = next.Add(*interval)
		start := time.Now()
		reply, err := svc.Greet(context.Background(), "consumer")
		r := result{Call: i, OK: err == nil, Ms: time.Since(start).Milliseconds(), At: start.UnixMilli()}
		if err != nil {
			r.Error = err.Error()
		} else {
			_, r.Provider, _ = strings.Cut(reply, " from ")
		}
		if err := out.Encode(r); err != nil {
			log.Fatal(err)
		}
	}
}
