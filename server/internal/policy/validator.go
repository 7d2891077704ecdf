package policy

import (
	"context"
	"fmt"

	"github.com/groundwork-dev/groundwork/server/internal/account"
	"github.com/groundwork-dev/groundwork/server/internal/export"
	"github.com/groundwork-dev/groundwork/server/internal/messenger"
)

// Validator is the Validate middleware: it forwards a message only if the
// message's Validate method accepts it. The zero value is ready to use.
type Validator struct{}

// HandleCreateAccount validates an account.Create.
func (*Validator) HandleCreateAccount(ctx context.Context, msg account.Create, next messenger.NextCreateAccount) (account.Account, error) {
	if err := msg.Validate(); err != nil {
		return account.Account{}, fmt.Errorf("validate create account: %w", err)
	}
	return next.Send(ctx, msg)
}

// HandleGetAccount validates an account.Get.
func (*Validator) HandleGetAccount(ctx context.Context, msg account.Get, next messenger.NextGetAccount) (account.Account, error) {
	if err := msg.Validate(); err != nil {
		return account.Account{}, fmt.Errorf("validate get account: %w", err)
	}
	return next.Send(ctx, msg)
}

// HandleListAccounts validates an account.List.
func (*Validator) HandleListAccounts(ctx context.Context, msg account.List, next messenger.NextListAccounts) (account.Page, error) {
	if err := msg.Validate(); err != nil {
		return account.Page{}, fmt.Errorf("validate list accounts: %w", err)
	}
	return next.Send(ctx, msg)
}

// HandleUpdateAccount validates an account.Update.
func (*Validator) HandleUpdateAccount(ctx context.Context, msg account.Update, next messenger.NextUpdateAccount) (account.Account, error) {
	if err := msg.Validate(); err != nil {
		return account.Account{}, fmt.Errorf("validate update account: %w", err)
	}
	return next.Send(ctx, msg)
}

// HandleDeleteAccount validates an account.Delete.
func (*Validator) HandleDeleteAccount(ctx context.Context, msg account.Delete, next messenger.NextDeleteAccount) (account.Account, error) {
	if err := msg.Validate(); err != nil {
		return account.Account{}, fmt.Errorf("validate delete account: %w", err)
	}
	return next.Send(ctx, msg)
}

// HandleCreateAccountExport validates an export.Create.
func (*Validator) HandleCreateAccountExport(ctx context.Context, msg export.Create, next messenger.NextCreateAccountExport) (export.Export, error) {
	if err := msg.Validate(); err != nil {
		return export.Export{}, fmt.Errorf("validate create account export: %w", err)
	}
	return next.Send(ctx, msg)
}

// HandleGetAccountExport validates an export.Get.
func (*Validator) HandleGetAccountExport(ctx context.Context, msg export.Get, next messenger.NextGetAccountExport) (export.Export, error) {
	if err := msg.Validate(); err != nil {
		return export.Export{}, fmt.Errorf("validate get account export: %w", err)
	}
	return next.Send(ctx, msg)
}

// HandleDownloadAccountExport validates an export.Download.
func (*Validator) HandleDownloadAccountExport(ctx context.Context, msg export.Download, next messenger.NextDownloadAccountExport) (export.Content, error) {
	if err := msg.Validate(); err != nil {
		return export.Content{}, fmt.Errorf("validate download account export: %w", err)
	}
	return next.Send(ctx, msg)
}
