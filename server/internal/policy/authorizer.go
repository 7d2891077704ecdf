package policy

import (
	"context"

	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/export"
	"github.com/groundwork-dev/groundwork/server/internal/messenger"
	"github.com/groundwork-dev/groundwork/server/internal/user"
)

// Authorizer is the Authorize middleware: a caller acts only for
// themselves. It forwards a message only if the authenticated caller is the
// message's owner (for user.Get: the user asked for). Which account an ID
// names is the store's business: it scopes every query by owner. The zero
// value is ready to use.
type Authorizer struct{}

// HandleCreateAccount authorizes an account.Create.
func (*Authorizer) HandleCreateAccount(ctx context.Context, msg account.Create, next messenger.NextCreateAccount) (account.Account, error) {
	if err := actFor(ctx, msg.Owner); err != nil {
		return account.Account{}, err
	}
	return next.Send(ctx, msg)
}

// HandleGetAccount authorizes an account.Get.
func (*Authorizer) HandleGetAccount(ctx context.Context, msg account.Get, next messenger.NextGetAccount) (account.Account, error) {
	if err := actFor(ctx, msg.Owner); err != nil {
		return account.Account{}, err
	}
	return next.Send(ctx, msg)
}

// HandleListAccounts authorizes an account.List.
func (*Authorizer) HandleListAccounts(ctx context.Context, msg account.List, next messenger.NextListAccounts) (account.Page, error) {
	if err := actFor(ctx, msg.Owner); err != nil {
		return account.Page{}, err
	}
	return next.Send(ctx, msg)
}

// HandleUpdateAccount authorizes an account.Update.
func (*Authorizer) HandleUpdateAccount(ctx context.Context, msg account.Update, next messenger.NextUpdateAccount) (account.Account, error) {
	if err := actFor(ctx, msg.Owner); err != nil {
		return account.Account{}, err
	}
	return next.Send(ctx, msg)
}

// HandleDeleteAccount authorizes an account.Delete.
func (*Authorizer) HandleDeleteAccount(ctx context.Context, msg account.Delete, next messenger.NextDeleteAccount) (account.Account, error) {
	if err := actFor(ctx, msg.Owner); err != nil {
		return account.Account{}, err
	}
	return next.Send(ctx, msg)
}

// HandleGetUser authorizes a user.Get: callers read only themselves.
func (*Authorizer) HandleGetUser(ctx context.Context, msg user.Get, next messenger.NextGetUser) (user.User, error) {
	if err := actFor(ctx, msg.ID); err != nil {
		return user.User{}, err
	}
	return next.Send(ctx, msg)
}

// HandleCreateAccountExport authorizes an export.Create.
func (*Authorizer) HandleCreateAccountExport(ctx context.Context, msg export.Create, next messenger.NextCreateAccountExport) (export.Export, error) {
	if err := actFor(ctx, msg.Owner); err != nil {
		return export.Export{}, err
	}
	return next.Send(ctx, msg)
}

// HandleGetAccountExport authorizes an export.Get.
func (*Authorizer) HandleGetAccountExport(ctx context.Context, msg export.Get, next messenger.NextGetAccountExport) (export.Export, error) {
	if err := actFor(ctx, msg.Owner); err != nil {
		return export.Export{}, err
	}
	return next.Send(ctx, msg)
}

// HandleDownloadAccountExport authorizes an export.Download.
func (*Authorizer) HandleDownloadAccountExport(ctx context.Context, msg export.Download, next messenger.NextDownloadAccountExport) (export.Content, error) {
	if err := actFor(ctx, msg.Owner); err != nil {
		return export.Content{}, err
	}
	return next.Send(ctx, msg)
}
