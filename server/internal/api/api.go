// Package api implements the gRPC services of groundwork.v1
// (groundworkv1.AccountServiceServer and UserServiceServer) on top of the
// generated messenger: each method reads the authenticated caller from the
// context, turns the request into a domain message (account.Create, ...),
// sends it, and turns the response into the proto response.
//
// The methods hold no rules of their own: validation, authorization and
// storage are the receivers' (see routing.yaml). Every error leaves through
// grpcerr.From, which picks the status code and the client's message; the
// transport's interceptors log the cause once. Nothing here logs.
package api

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/export"
	"github.com/groundwork-dev/groundwork/server/internal/grpcerr"
	"github.com/groundwork-dev/groundwork/server/internal/identity"
	"github.com/groundwork-dev/groundwork/server/internal/messenger"
	"github.com/groundwork-dev/groundwork/server/internal/user"
)

// Accounts implements groundworkv1.AccountServiceServer; it is the
// AccountAPI source of the messenger.
type Accounts struct {
	groundworkv1.UnimplementedAccountServiceServer
	send messenger.AccountAPISender
}

// NewAccounts returns the account service, sending through send (the app
// messenger, or a test messenger such as testaccount).
func NewAccounts(send messenger.AccountAPISender) *Accounts { return &Accounts{send: send} }

var _ groundworkv1.AccountServiceServer = (*Accounts)(nil)

// caller returns the authenticated user's ID. The auth interceptor puts the
// user in the context; without one the RPC is UNAUTHENTICATED before
// anything else is checked.
func caller(ctx context.Context) (string, error) {
	me, err := identity.From(ctx)
	if err != nil {
		return "", grpcerr.From(err)
	}
	return me.ID, nil
}

// CreateAccount creates an account owned by the caller.
func (a *Accounts) CreateAccount(ctx context.Context, req *groundworkv1.CreateAccountRequest) (*groundworkv1.CreateAccountResponse, error) {
	owner, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	acc, err := a.send.SendCreateAccount(ctx, account.Create{Owner: owner, Name: req.GetName()})
	if err != nil {
		return nil, grpcerr.From(fmt.Errorf("CreateAccount: %w", err))
	}
	return &groundworkv1.CreateAccountResponse{Account: accountToProto(acc)}, nil
}

// GetAccount returns one of the caller's accounts.
func (a *Accounts) GetAccount(ctx context.Context, req *groundworkv1.GetAccountRequest) (*groundworkv1.GetAccountResponse, error) {
	owner, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	acc, err := a.send.SendGetAccount(ctx, account.Get{Owner: owner, ID: req.GetId()})
	if err != nil {
		return nil, grpcerr.From(fmt.Errorf("GetAccount: %w", err))
	}
	return &groundworkv1.GetAccountResponse{Account: accountToProto(acc)}, nil
}

// ListAccounts returns one page of the caller's live accounts, oldest first.
func (a *Accounts) ListAccounts(ctx context.Context, req *groundworkv1.ListAccountsRequest) (*groundworkv1.ListAccountsResponse, error) {
	owner, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	page, err := a.send.SendListAccounts(ctx, account.List{
		Owner:     owner,
		PageSize:  int(req.GetPageSize()),
		PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, grpcerr.From(fmt.Errorf("ListAccounts: %w", err))
	}
	resp := &groundworkv1.ListAccountsResponse{
		Accounts:      make([]*groundworkv1.Account, len(page.Accounts)),
		NextPageToken: page.NextPageToken,
	}
	for i, acc := range page.Accounts {
		resp.Accounts[i] = accountToProto(acc)
	}
	return resp, nil
}

// UpdateAccount renames one of the caller's accounts.
func (a *Accounts) UpdateAccount(ctx context.Context, req *groundworkv1.UpdateAccountRequest) (*groundworkv1.UpdateAccountResponse, error) {
	owner, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	acc, err := a.send.SendUpdateAccount(ctx, account.Update{Owner: owner, ID: req.GetId(), Name: req.GetName()})
	if err != nil {
		return nil, grpcerr.From(fmt.Errorf("UpdateAccount: %w", err))
	}
	return &groundworkv1.UpdateAccountResponse{Account: accountToProto(acc)}, nil
}

// DeleteAccount soft-deletes one of the caller's accounts.
func (a *Accounts) DeleteAccount(ctx context.Context, req *groundworkv1.DeleteAccountRequest) (*groundworkv1.DeleteAccountResponse, error) {
	owner, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := a.send.SendDeleteAccount(ctx, account.Delete{Owner: owner, ID: req.GetId()}); err != nil {
		return nil, grpcerr.From(fmt.Errorf("DeleteAccount: %w", err))
	}
	return &groundworkv1.DeleteAccountResponse{}, nil
}

// CreateAccountExport asks for an export of one of the caller's accounts;
// the export job writes it in the background.
func (a *Accounts) CreateAccountExport(ctx context.Context, req *groundworkv1.CreateAccountExportRequest) (*groundworkv1.CreateAccountExportResponse, error) {
	owner, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	e, err := a.send.SendCreateAccountExport(ctx, export.Create{Owner: owner, AccountID: req.GetAccountId()})
	if err != nil {
		return nil, grpcerr.From(fmt.Errorf("CreateAccountExport: %w", err))
	}
	return &groundworkv1.CreateAccountExportResponse{Export: exportToProto(e)}, nil
}

// GetAccountExport reports the state of one export of the caller's account.
func (a *Accounts) GetAccountExport(ctx context.Context, req *groundworkv1.GetAccountExportRequest) (*groundworkv1.GetAccountExportResponse, error) {
	owner, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	e, err := a.send.SendGetAccountExport(ctx, export.Get{Owner: owner, AccountID: req.GetAccountId(), ID: req.GetId()})
	if err != nil {
		return nil, grpcerr.From(fmt.Errorf("GetAccountExport: %w", err))
	}
	return &groundworkv1.GetAccountExportResponse{Export: exportToProto(e)}, nil
}

// DownloadAccountExport returns the document of a succeeded export.
func (a *Accounts) DownloadAccountExport(ctx context.Context, req *groundworkv1.DownloadAccountExportRequest) (*groundworkv1.DownloadAccountExportResponse, error) {
	owner, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	c, err := a.send.SendDownloadAccountExport(ctx, export.Download{Owner: owner, AccountID: req.GetAccountId(), ID: req.GetId()})
	if err != nil {
		return nil, grpcerr.From(fmt.Errorf("DownloadAccountExport: %w", err))
	}
	return &groundworkv1.DownloadAccountExportResponse{Filename: c.Filename, ContentType: c.ContentType, Content: c.Data}, nil
}

var exportStates = map[export.State]groundworkv1.AccountExport_State{
	export.StatePending:   groundworkv1.AccountExport_STATE_PENDING,
	export.StateRunning:   groundworkv1.AccountExport_STATE_RUNNING,
	export.StateSucceeded: groundworkv1.AccountExport_STATE_SUCCEEDED,
	export.StateFailed:    groundworkv1.AccountExport_STATE_FAILED,
}

func exportToProto(e export.Export) *groundworkv1.AccountExport {
	p := &groundworkv1.AccountExport{
		Id:         e.ID,
		AccountId:  e.AccountID,
		State:      exportStates[e.State], // a state the table's CHECK does not allow maps to UNSPECIFIED
		CreateTime: timestamppb.New(e.CreateTime),
		Error:      e.Error,
	}
	if !e.CompleteTime.IsZero() {
		p.CompleteTime = timestamppb.New(e.CompleteTime)
	}
	return p
}

func accountToProto(acc account.Account) *groundworkv1.Account {
	return &groundworkv1.Account{
		Id:         acc.ID,
		OwnerId:    acc.OwnerID,
		Name:       acc.Name,
		CreateTime: timestamppb.New(acc.CreateTime),
		UpdateTime: timestamppb.New(acc.UpdateTime),
	}
}

// Users implements groundworkv1.UserServiceServer; it is the UserAPI
// source of the messenger.
type Users struct {
	groundworkv1.UnimplementedUserServiceServer
	send messenger.UserAPISender
}

// NewUsers returns the user service, sending through send.
func NewUsers(send messenger.UserAPISender) *Users { return &Users{send: send} }

var _ groundworkv1.UserServiceServer = (*Users)(nil)

// GetMe returns the caller, as mirrored in the users table. The auth
// interceptor upserts that row before the call, so NOT_FOUND means the
// identity was deleted in between.
func (u *Users) GetMe(ctx context.Context, _ *groundworkv1.GetMeRequest) (*groundworkv1.GetMeResponse, error) {
	id, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	usr, err := u.send.SendGetUser(ctx, user.Get{ID: id})
	if err != nil {
		return nil, grpcerr.From(fmt.Errorf("GetMe: %w", err))
	}
	return &groundworkv1.GetMeResponse{User: &groundworkv1.User{
		Id:          usr.ID,
		Email:       usr.Email,
		DisplayName: usr.DisplayName,
		CreateTime:  timestamppb.New(usr.CreateTime),
		UpdateTime:  timestamppb.New(usr.UpdateTime),
	}}, nil
}
