package export_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/server/internal/export"
	"github.com/groundwork-dev/groundwork/server/internal/invalid"
)

const (
	owner = "6f1f4a0e-8a4b-4c1e-9d3a-0b7c2e5f9a11"
	accID = "9b2d6a8e-3f1c-4f7a-9f5e-2a6c1d8b7e40"
	expID = "3c0b9a8d-7e6f-4a5b-8c9d-0e1f2a3b4c5d"
)

func violations(t *testing.T, err error) []invalid.Violation {
	t.Helper()
	if err == nil {
		return nil
	}
	var bad *invalid.Error
	require.ErrorAs(t, err, &bad)
	return bad.Violations
}

func TestValidate(t *testing.T) {
	t.Parallel()
	assert.NoError(t, export.Create{Owner: owner, AccountID: accID}.Validate())
	assert.NoError(t, export.Get{Owner: owner, AccountID: accID, ID: expID}.Validate())
	assert.NoError(t, export.Download{Owner: owner, AccountID: "9B2D6A8E-3F1C-4F7A-9F5E-2A6C1D8B7E40", ID: expID}.Validate(), "upper case is a UUID too")

	assert.Equal(t, []invalid.Violation{{Field: "account_id", Description: "must not be empty"}},
		violations(t, export.Create{Owner: owner}.Validate()))
	assert.Equal(t, []invalid.Violation{
		{Field: "account_id", Description: "must be a UUID such as 9b2d6a8e-3f1c-4f7a-9f5e-2a6c1d8b7e40"},
		{Field: "id", Description: "must not be empty"},
	}, violations(t, export.Get{Owner: owner, AccountID: "acc-1"}.Validate()), "both fields, in order")
	assert.Equal(t, []invalid.Violation{{Field: "id", Description: "must be a UUID such as 9b2d6a8e-3f1c-4f7a-9f5e-2a6c1d8b7e40"}},
		violations(t, export.Download{Owner: owner, AccountID: accID, ID: expID + " "}.Validate()))
}

func TestNotReadyError(t *testing.T) {
	t.Parallel()
	for st, msg := range map[export.State]string{
		export.StatePending: "the export is pending; download it once GetAccountExport reports STATE_SUCCEEDED",
		export.StateRunning: "the export is running; download it once GetAccountExport reports STATE_SUCCEEDED",
		export.StateFailed:  "the export failed and has no content; create a new export",
	} {
		err := error(&export.NotReadyError{State: st})
		assert.Equal(t, msg, err.Error())
		assert.True(t, errors.Is(err, export.ErrNotReady))
	}
	assert.False(t, export.StatePending.Done())
	assert.True(t, export.StateFailed.Done())
	assert.True(t, export.StateSucceeded.Done())
}

func TestDocumentEncode(t *testing.T) {
	t.Parallel()
	berlin := time.FixedZone("CET", 3600)
	b, err := export.Document{
		ExportID:   expID,
		ExportedAt: time.Date(2026, 5, 4, 12, 30, 0, 123456000, berlin),
		Account: export.DocumentAccount{ID: accID, Name: "Acme <&> \"Ltd\"",
			CreateTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), UpdateTime: time.Date(2026, 2, 3, 4, 5, 6, 0, berlin)},
		Owner: export.DocumentOwner{ID: owner, Email: "alice@example.com", DisplayName: "Alice"},
	}.Encode()
	require.NoError(t, err)
	want := `{
  "format": "groundwork.account-export.v1",
  "export_id": "3c0b9a8d-7e6f-4a5b-8c9d-0e1f2a3b4c5d",
  "exported_at": "2026-05-04T11:30:00.123456Z",
  "account": {
    "id": "9b2d6a8e-3f1c-4f7a-9f5e-2a6c1d8b7e40",
    "name": "Acme \u003c\u0026\u003e \"Ltd\"",
    "create_time": "2026-01-02T03:04:05Z",
    "update_time": "2026-02-03T03:05:06Z"
  },
  "owner": {
    "id": "6f1f4a0e-8a4b-4c1e-9d3a-0b7c2e5f9a11",
    "email": "alice@example.com",
    "display_name": "Alice"
  }
}
`
	assert.Equal(t, want, string(b))
	assert.True(t, json.Valid(b))
	assert.Equal(t, "account-"+accID+"-export.json", export.Filename(accID))
}
