package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/groundwork-dev/groundwork/server/internal/identity"
)

// HookKeyHeader carries the shared API key of Kratos's web hooks (the
// web_hook's auth: api_key, in: header).
const HookKeyHeader = "X-Groundwork-Hook-Key"

// MinHookKeyLen is the shortest API key NewHookHandler accepts.
const MinHookKeyLen = 32

const maxHookBody = 64 << 10

// HookPayload is the body Kratos sends, produced by
// k8s/base/kratos/identity-hook.jsonnet from the flow's identity.
type HookPayload struct {
	IdentityID string `json:"identity_id"`
	Email      string `json:"email"`
	Name       string `json:"name"`
}

// HookHandler receives Kratos's web hooks after registration and after
// settings, and passes the identity to a callback (the users store's
// upsert). It authenticates Kratos by a shared API key in HookKeyHeader and
// is meant for the ops listener, which the public proxy does not route.
//
// It answers 204 when the identity was recorded; 405 for a method other
// than POST; 401 for a missing or wrong key (checked before the body is
// read); 415 for a body that is not JSON; 413 above 64 KiB; 400 for
// malformed JSON or a missing or invalid field, naming it; 500 if the
// callback fails (Kratos retries). Only a 204 means the callback ran.
//
// It logs what it refuses (Warn) and callback failures (Error), because
// nobody else sees them: Kratos only logs the status.
type HookHandler struct {
	keyDigest  [sha256.Size]byte
	onIdentity UserFunc
	log        *slog.Logger
}

// NewHookHandler returns a handler that accepts requests carrying apiKey
// (at least MinHookKeyLen characters) and passes their identity to
// onIdentity. A nil log discards the handler's logs.
func NewHookHandler(apiKey string, onIdentity UserFunc, log *slog.Logger) (*HookHandler, error) {
	if len(apiKey) < MinHookKeyLen {
		return nil, fmt.Errorf("auth: the Kratos hook API key must be at least %d characters (e.g. `openssl rand -hex 32`), got %d", MinHookKeyLen, len(apiKey))
	}
	if onIdentity == nil {
		return nil, errors.New("auth: the Kratos hook needs a callback")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &HookHandler{keyDigest: sha256.Sum256([]byte(apiKey)), onIdentity: onIdentity, log: log}, nil
}

// ServeHTTP implements http.Handler.
func (h *HookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, r, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	// Digests of equal length: the comparison reveals neither the key nor
	// its length.
	got := sha256.Sum256([]byte(r.Header.Get(HookKeyHeader)))
	if subtle.ConstantTimeCompare(got[:], h.keyDigest[:]) != 1 {
		h.refuse(w, r, http.StatusUnauthorized, "missing or wrong "+HookKeyHeader)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.refuse(w, r, http.StatusUnsupportedMediaType, "the body must be application/json")
		return
	}
	u, err := decodeHook(http.MaxBytesReader(w, r.Body, maxHookBody))
	if err != nil {
		status := http.StatusBadRequest
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			status = http.StatusRequestEntityTooLarge
		}
		h.refuse(w, r, status, err.Error())
		return
	}
	if err := h.onIdentity(r.Context(), u); err != nil {
		h.log.ErrorContext(r.Context(), "kratos hook: record identity", "identity_id", u.ID, "error", err)
		http.Error(w, "could not record the identity", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *HookHandler) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.log.WarnContext(r.Context(), "kratos hook: request refused", "status", status, "reason", msg, "remote", r.RemoteAddr)
	http.Error(w, msg, status)
}

func decodeHook(body io.Reader) (identity.User, error) {
	dec := json.NewDecoder(body)
	var p HookPayload
	if err := dec.Decode(&p); err != nil {
		return identity.User{}, fmt.Errorf("malformed JSON body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			return identity.User{}, err
		}
		return identity.User{}, errors.New("malformed JSON body: data after the object")
	}
	id := strings.ToLower(p.IdentityID)
	switch {
	case !isUUID(id):
		return identity.User{}, fmt.Errorf("identity_id must be a UUID, got %q", truncate(p.IdentityID))
	case p.Email == "":
		return identity.User{}, errors.New("email is missing")
	case len(p.Email) > 320 || !strings.Contains(p.Email, "@") || strings.ContainsFunc(p.Email, isControl):
		return identity.User{}, fmt.Errorf("email is not an email address: %q", truncate(p.Email))
	case utf8.RuneCountInString(p.Name) > 256 || strings.ContainsFunc(p.Name, isControl):
		return identity.User{}, errors.New("name is longer than 256 characters or contains control characters")
	}
	return identity.User{ID: id, Email: p.Email, DisplayName: p.Name}, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
