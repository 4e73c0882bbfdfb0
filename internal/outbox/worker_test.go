package outbox

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{0, 10 * time.Second},
		{1, 10 * time.Second},
		{2, 20 * time.Second},
		{3, 40 * time.Second},
		{9, 2560 * time.Second},
		{10, time.Hour},
		{50, time.Hour},
	}
	for _, tt := range tests {
		if got := Backoff(tt.attempt); got != tt.want {
			t.Errorf("Backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

func TestSign(t *testing.T) {
	// Computed independently: printf '%s' '2024-05-02T09:00:00Z{"a":1}' |
	// openssl dgst -sha256 -hmac secret -binary | base64
	got := Sign("secret", "2024-05-02T09:00:00Z", []byte(`{"a":1}`))
	if want := "sXvSJ4VkIehBHZhuCWWMYca6AmfG10T3wjz9scHC500="; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}
