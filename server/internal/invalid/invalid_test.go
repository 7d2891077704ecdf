package invalid_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/server/internal/invalid"
)

func TestViolations(t *testing.T) {
	t.Parallel()
	var vs invalid.Violations
	require.NoError(t, vs.Err(), "no violations, no error")

	vs.Add("id", "must not be empty")
	vs.Add("name", "must not be only whitespace")
	err := fmt.Errorf("validate: %w", vs.Err())

	var bad *invalid.Error
	require.True(t, errors.As(err, &bad))
	assert.Equal(t, []invalid.Violation{
		{Field: "id", Description: "must not be empty"},
		{Field: "name", Description: "must not be only whitespace"},
	}, bad.Violations)
	assert.Equal(t, "id: must not be empty; name: must not be only whitespace", bad.Error())
}

func TestField(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "page_size: must not be negative", invalid.Field("page_size", "must not be negative").Error())
}
