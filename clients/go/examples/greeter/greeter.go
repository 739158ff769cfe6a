// Package greeter is a one-method Triple service, greet.GreetService/Greet, whose request
// and reply are google.protobuf.StringValue. Using a well-known protobuf type keeps the
// service gRPC-compatible on the wire with no generated message code, so plain grpc-go
// can call it too. The service and client descriptions below are what protoc-gen-go-triple
// would generate for it.
package greeter

import (
	"context"

	"dubbo.apache.org/dubbo-go/v3/client"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/protocol/triple/triple_protocol"
	"dubbo.apache.org/dubbo-go/v3/server"

	"google.golang.org/protobuf/types/known/wrapperspb"
)

// InterfaceName is the Dubbo interface (and gRPC service) name.
const InterfaceName = "greet.GreetService"

// GreetProcedure is the gRPC method path of Greet.
const GreetProcedure = "/" + InterfaceName + "/Greet"

// Handler implements the service on the provider.
type Handler interface {
	Greet(ctx context.Context, name *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
}

// Register adds a handler to a dubbo-go server.
func Register(srv *server.Server, h Handler, opts ...server.ServiceOption) error {
	return srv.Register(h, &serviceInfo, opts...)
}

var serviceInfo = server.ServiceInfo{
	InterfaceName: InterfaceName,
	ServiceType:   (*Handler)(nil),
	Methods: []server.MethodInfo{{
		Name:        "Greet",
		Type:        constant.CallUnary,
		ReqInitFunc: func() any { return new(wrapperspb.StringValue) },
		MethodFunc: func(ctx context.Context, args []any, handler any) (any, error) {
			res, err := handler.(Handler).Greet(ctx, args[0].(*wrapperspb.StringValue))
			if err != nil {
				return nil, err
			}
			return triple_protocol.NewResponse(res), nil
		},
	}},
}

// Client calls the service through a dubbo-go client.
type Client struct {
	conn *client.Connection
}

// NewClient makes a reference to the service.
func NewClient(cli *client.Client, opts ...client.ReferenceOption) (*Client, error) {
	c := &Client{}
	conn, err := cli.DialWithInfo(InterfaceName, &clientInfo, opts...)
	if err != nil {
		return nil, err
	}
	c.conn = conn
	return c, nil
}

// Greet makes one call.
func (c *Client) Greet(ctx context.Context, name string, opts ...client.CallOption) (string, error) {
	resp := new(wrapperspb.StringValue)
	if err := c.conn.CallUnary(ctx, []any{wrapperspb.String(name)}, resp, "Greet", opts...); err != nil {
		return "", err
	}
	return resp.GetValue(), nil
}

var clientInfo = client.ClientInfo{
	InterfaceName: InterfaceName,
	MethodNames:   []string{"Greet"},
	ConnectionInjectFunc: func(dubboCliRaw any, conn *client.Connection) {
		dubboCliRaw.(*Client).conn = conn
	},
}
