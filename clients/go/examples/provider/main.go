// Command provider serves greet.GreetService over Triple on one address and port, and,
// given -zookeeper, registers itself there: interface level by default (the usual dubbo-go way),
// or application level (-register instance, Dubbo 3's service discovery) or both (-register all),
// with the application's metadata in ZooKeeper as well given -remote-metadata.
// Each reply names the provider ("host:port"), so a consumer can tell who answered.
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"os"
	"strconv"

	"dubbo.apache.org/dubbo-go/v3"
	_ "dubbo.apache.org/dubbo-go/v3/imports"
	"dubbo.apache.org/dubbo-go/v3/protocol"
	"dubbo.apache.org/dubbo-go/v3/registry"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/dubbo-dns/dubbo-dns/clients/go/examples/greeter"
)

// Handler answers Greet; dubbo-go only exports services of exported types.
type Handler struct{ self string }

// Greet greets and says who answered.
func (h Handler) Greet(_ context.Context, name *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	return wrapperspb.String("hello " + name.GetValue() + " from " + h.self), nil
}

func main() {
	ip := flag.String("ip", "127.0.0.1", "address to listen on and register")
	port := flag.Int("port", 20000, "Triple port")
	zk := flag.String("zookeeper", "", "ZooKeeper address host:port to register in (none when empty)")
	register := flag.String("register", "interface", "with -zookeeper: interface, instance (application level) or all")
	remoteMetadata := flag.Bool("remote-metadata", false, "with -register instance or all: publish the application's metadata in ZooKeeper too")
	flag.Parse()
	modes := map[string]registry.Option{
		"interface": registry.WithRegisterInterface(),
		"instance":  registry.WithRegisterService(),
		"all":       registry.WithRegisterServiceAndInterface(),
	}
	mode, ok := modes[*register]
	if !ok {
		log.Fatalf("-register %q: want interface, instance or all", *register)
	}

	// dubbo-go registers the address it detects unless told; the tests run on loopback.
	if err := os.Setenv("DUBBO_IP_TO_REGISTRY", *ip); err != nil {
		log.Fatal(err)
	}
	opts := []dubbo.InstanceOption{
		dubbo.WithName("greeter-provider"),
		dubbo.WithProtocol(protocol.WithTriple(), protocol.WithIp(*ip), protocol.WithPort(*port)),
	}
	if *zk != "" {
		opts = append(opts, dubbo.WithRegistry(
			registry.WithZookeeper(),
			registry.WithAddress(*zk),
			mode,
		))
	}
	if *remoteMetadata {
		opts = append(opts, dubbo.WithRemoteMetadata())
	}
	ins, err := dubbo.NewInstance(opts...)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := ins.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	self := net.JoinHostPort(*ip, strconv.Itoa(*port))
	if err := greeter.Register(srv, Handler{self: self}); err != nil {
		log.Fatal(err)
	}
	log.Printf("greeter provider serving on %s", self)
	if err := srv.Serve(); err != nil {
		log.Fatal(err)
	}
}
