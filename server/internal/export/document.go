package export

import (
	"encoding/json"
	"fmt"
	"time"
)

// Format names the version of the document's layout; a change that could
// break a reader gets a new one.
const Format = "groundwork.account-export.v1"

// Document is what an export contains: the account and its owner as they
// were when the export ran. Field names are snake_case, like the API's
// proto field names; times are RFC 3339 in UTC.
type Document struct {
	Format     string          `json:"format"`
	ExportID   string          `json:"export_id"`
	ExportedAt time.Time       `json:"exported_at"`
	Account    DocumentAccount `json:"account"`
	Owner      DocumentOwner   `json:"owner"`
}

// DocumentAccount is the exported account.
type DocumentAccount struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	CreateTime time.Time `json:"create_time"`
	UpdateTime time.Time `json:"update_time"`
}

// DocumentOwner is the account's owner.
type DocumentOwner struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
}

// Encode returns the document as indented UTF-8 JSON ending in a newline,
// with every time in UTC.
func (d Document) Encode() ([]byte, error) {
	d.Format = Format
	d.ExportedAt = d.ExportedAt.UTC()
	d.Account.CreateTime = d.Account.CreateTime.UTC()
	d.Account.UpdateTime = d.Account.UpdateTime.UTC()
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode export document: %w", err)
	}
	return append(b, '\n'), nil
}
