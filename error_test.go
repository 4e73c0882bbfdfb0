package mergedesk

import (
	"encoding/json"
	"testing"
)

func TestFieldErrorUserIDKey(t *testing.T) {
	id := int64(7)
	for _, tt := range []struct {
		e    FieldError
		want string
	}{
		{FieldError{Error: "DuplicateValue", Description: "d"}, `{"error":"DuplicateValue","description":"d"}`},
		{FieldError{Error: "SameUser", Description: "d", AboutUser: true}, `{"error":"SameUser","description":"d","user_id":null}`},
		{FieldError{Error: "NotEndUser", Description: "d", UserID: &id, AboutUser: true}, `{"error":"NotEndUser","description":"d","user_id":7}`},
	} {
		b, err := json.Marshal(tt.e)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tt.e, b, err, tt.want)
		}
	}
}
