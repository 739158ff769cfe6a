// Command grpc-client calls greet.GreetService with plain grpc-go (no dubbo-go) through a
// gRPC target such as dns://127.0.0.1:5353/S.N.dubbo.internal:20000, makes -calls calls
// -interval apart and prints one JSON line per call, like the dubbo-go consumer.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver/dns"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/dubbo-dns/dubbo-dns/clients/go/examples/greeter"
)

type result struct {
	Call     int    `json:"call"`
	OK       bool   `json:"ok"`
	Provider string `json:"provider,omitempty"`
	Error    string `json:"error,omitempty"`
	Ms       int64  `json:"ms"`
	At       int64  `json:"at"`
}

func main() {
	target := flag.String("target", "", "gRPC target, e.g. dns://127.0.0.1:5353/S.N.dubbo.internal:20000")
	calls := flag.Int("calls", 40, "number of calls")
	interval := flag.Duration("interval", 250*time.Millisecond, "time between the starts of two calls")
	timeout := flag.Duration("timeout", time.Second, "timeout of one call")
	minResolution := flag.Duration("min-resolution", 0, "grpc-go's minimum time between two DNS resolutions (0: its default, 30s)")
	flag.Parse()
	if *minResolution > 0 {
		// Experimental in grpc-go: must be set before the channel is created.
		dns.SetMinResolutionInterval(*minResolution)
	}

	conn, err := grpc.NewClient(*target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = conn.Close() }()

	out := json.NewEncoder(os.Stdout)
	next := time.Now()
	for i := 1; i <= *calls; i++ {
		time.Sleep(time.Until(next))
		next = next.Add(*interval)
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		reply := new(wrapperspb.StringValue)
		err := conn.Invoke(ctx, greeter.GreetProcedure, wrapperspb.String("grpc-go"), reply)
		cancel()
		r := result{Call: i, OK: err == nil, Ms: time.Since(start).Milliseconds(), At: start.UnixMilli()}
		if err != nil {
			r.Error = err.Error()
		} else {
			_, r.Provider, _ = strings.Cut(reply.GetValue(), " from ")
		}
		if err := out.Encode(r); err != nil {
			log.Fatal(err)
		}
	}
}
