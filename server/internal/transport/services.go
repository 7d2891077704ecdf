package transport

import (
	"context"
	"errors"
	"fmt"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
)

// Services are the API implementations the server exposes, over gRPC and,
// through the gateway, over HTTP/JSON. Adding a service means a field here
// and one line in each of register and registerGateway below.
type Services struct {
	User    groundworkv1.UserServiceServer
	Account groundworkv1.AccountServiceServer
}

func (s Services) check() error {
	var errs []error
	if s.User == nil {
		errs = append(errs, errors.New("no User service (Services.User is nil)"))
	}
	if s.Account == nil {
		errs = append(errs, errors.New("no Account service (Services.Account is nil)"))
	}
	return errors.Join(errs...)
}

func (s Services) register(r grpc.ServiceRegistrar) {
	groundworkv1.RegisterUserServiceServer(r, s.User)
	groundworkv1.RegisterAccountServiceServer(r, s.Account)
}

// registerGateway adds the HTTP routes of every service to mux; each
// handler calls the gRPC server through conn.
func registerGateway(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	for name, reg := range map[string]func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		"UserService":    groundworkv1.RegisterUserServiceHandler,
		"AccountService": groundworkv1.RegisterAccountServiceHandler,
	} {
		if err := reg(ctx, mux, conn); err != nil {
			return fmt.Errorf("register %s routes: %w", name, err)
		}
	}
	return nil
}
