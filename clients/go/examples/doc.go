// Package examples holds a Triple provider and consumers used by dubbo-dns's end-to-end
// tests and as worked examples: greeter (the service), provider, consumer (dubbo-go with
// the dubbodns registry) and grpc-client (plain grpc-go through its dns resolver).
package examples
