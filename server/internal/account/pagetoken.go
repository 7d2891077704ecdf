package account

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// Cursor is a position in an owner's listing: the last account of a page.
// The next page starts after it in (CreateTime, ID) order.
type Cursor struct {
	CreateTime time.Time // microsecond precision, as stored
	ID         string
}

// A page token is base64url (unpadded) of:
//
//	version   1 byte  (pageTokenVersion)
//	owner tag 8 bytes (first 8 bytes of SHA-256 of the owner's ID)
//	time      8 bytes (CreateTime in microseconds since the Unix epoch, big endian)
//	id       16 bytes (the account UUID)
//
// The owner tag makes a token issued to one user invalid for another
// (page_token: "was not issued for this caller"). The token is not signed:
// a client that forges one only chooses where its own listing starts, as
// every query is scoped to the caller.
const (
	pageTokenVersion = 1
	pageTokenLen     = 1 + 8 + 8 + 16
)

// PageToken encodes the cursor as an opaque page token for owner.
func (c Cursor) PageToken(owner string) string {
	id, ok := parseUUID(c.ID)
	if !ok {
		// Account IDs come from the database's uuid column; anything else
		// is a programming error.
		panic("account: cursor ID " + c.ID + " is not a UUID")
	}
	var b [pageTokenLen]byte
	b[0] = pageTokenVersion
	tag := ownerTag(owner)
	copy(b[1:9], tag[:])
	binary.BigEndian.PutUint64(b[9:17], uint64(c.CreateTime.UnixMicro())) //nolint:gosec // a round trip of the int64; negative times survive it
	copy(b[17:], id[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decodePageToken decodes a token issued by Cursor.PageToken for owner. On
// failure, problem says what is wrong, for the page_token field.
func decodePageToken(owner, token string) (c Cursor, problem string) {
	const malformed = "is malformed; pass the next_page_token of a previous response unchanged"
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != pageTokenLen || b[0] != pageTokenVersion {
		return Cursor{}, malformed
	}
	if tag := ownerTag(owner); string(b[1:9]) != string(tag[:]) {
		return Cursor{}, "was not issued for this caller"
	}
	micros := int64(binary.BigEndian.Uint64(b[9:17])) //nolint:gosec // the inverse of PageToken's conversion
	var id [16]byte
	copy(id[:], b[17:])
	return Cursor{CreateTime: time.UnixMicro(micros).UTC(), ID: formatUUID(id)}, ""
}

func ownerTag(owner string) [8]byte {
	sum := sha256.Sum256([]byte(owner))
	var tag [8]byte
	copy(tag[:], sum[:8])
	return tag
}
