package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// TestActiveTriggersCache: the cached active triggers follow trigger writes
// made through the store at once.
func TestActiveTriggersCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		active := func() []string {
			t.Helper()
			var titles []string
			err := db.Update(ctx, func(tx *store.Tx) error {
				ts, err := tx.ActiveTriggers(ctx)
				for _, tr := range ts {
					titles = append(titles, tr.Title)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return titles
		}
		mk := func(title string) *mergedesk.Trigger {
			t.Helper()
			acts := []mergedesk.Action{{Field: "status", Value: "open"}}
			tr, err := db.CreateTrigger(ctx, mergedesk.TriggerWrite{Title: &title, Conditions: &mergedesk.Conditions{}, Actions: &acts})
			if err != nil {
				t.Fatal(err)
			}
			return tr
		}
		if got := active(); len(got) != 0 {
			t.Fatalf("active = %v, want none", got)
		}
		a := mk("A")
		b := mk("B")
		if got, want := active(), []string{"A", "B"}; !slices.Equal(got, want) {
			t.Errorf("active = %v, want %v", got, want)
		}
		no := false
		if _, err := db.UpdateTrigger(ctx, a.ID, mergedesk.TriggerWrite{Active: &no}); err != nil {
			t.Fatal(err)
		}
		if got, want := active(), []string{"B"}; !slices.Equal(got, want) {
			t.Errorf("after deactivating A: active = %v, want %v", got, want)
		}
		if err := db.DeleteTrigger(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		if got := active(); len(got) != 0 {
			t.Errorf("after deleting B: active = %v, want none", got)
		}
		if err := db.DeleteTrigger(ctx, b.ID); mergedesk.ErrorCode(err) != mergedesk.ENotFound {
			t.Errorf("delete again = %v, want RecordNotFound", err)
		}
	})
}

// TestOutboxLifecycle: enqueue in a transaction, claim when due, retry at a
// later time, then deliver.
func TestOutboxLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2024, 5, 2, 9, 0, 0, 0, time.UTC)
		db.Now = func() time.Time { return now }
		var msg mergedesk.OutboxMessage
		err := db.Update(ctx, func(tx *store.Tx) error {
			msg = mergedesk.OutboxMessage{Kind: mergedesk.OutboxEmail, TicketID: 7, RecipientID: 3, Recipient: "ann@example.com", Subject: "S", Body: "B"}
			return tx.Enqueue(ctx, &msg)
		})
		if err != nil {
			t.Fatal(err)
		}
		// A rolled-back write leaves nothing behind.
		db.Update(ctx, func(tx *store.Tx) error {
			tx.Enqueue(ctx, &mergedesk.OutboxMessage{Kind: mergedesk.OutboxWebhook, WebhookID: "x", Body: "{}"})
			return mergedesk.NotFound()
		})
		if got, err := db.ClaimOutbox(ctx, []string{mergedesk.OutboxWebhook}, 10, time.Minute); err != nil || len(got) != 0 {
			t.Fatalf("claim webhooks = %v, %v; want none (emails only, rolled-back webhook)", got, err)
		}
		got, err := db.ClaimOutbox(ctx, []string{mergedesk.OutboxEmail}, 10, time.Minute)
		if err != nil || len(got) != 1 || got[0].ID != msg.ID || got[0].Attempts != 1 || got[0].Recipient != "ann@example.com" {
			t.Fatalf("claim = %v, %v; want the email with attempts 1", got, err)
		}
		// Claimed: leased, not claimable again until the lease ends.
		if again, _ := db.ClaimOutbox(ctx, []string{mergedesk.OutboxEmail}, 10, time.Minute); len(again) != 0 {
			t.Errorf("claimed twice: %v", again)
		}
		retry := now.Add(20 * time.Second)
		if err := db.OutboxAttemptFailed(ctx, msg.ID, "421 try later", 0, &retry); err != nil {
			t.Fatal(err)
		}
		m, _ := db.OutboxMessage(ctx, msg.ID)
		if m.Status != mergedesk.OutboxPending || !m.NextAttemptAt.Equal(retry) || m.LastError == nil || *m.LastError != "421 try later" {
			t.Errorf("after a failed attempt: %+v", m)
		}
		if early, _ := db.ClaimOutbox(ctx, []string{mergedesk.OutboxEmail}, 10, time.Minute); len(early) != 0 {
			t.Errorf("claimed before next_attempt_at: %v", early)
		}
		now = retry
		if got, _ := db.ClaimOutbox(ctx, []string{mergedesk.OutboxEmail}, 10, time.Minute); len(got) != 1 || got[0].Attempts != 2 {
			t.Fatalf("claim at next_attempt_at = %v", got)
		}
		if err := db.OutboxDelivered(ctx, msg.ID, 0); err != nil {
			t.Fatal(err)
		}
		list, info, err := db.OutboxMessages(ctx, mergedesk.OutboxDelivered, mergedesk.Page{Size: 10})
		if err != nil || len(list) != 1 || info.Total != 1 || list[0].DeliveredAt == nil || list[0].LastError != nil {
			t.Errorf("delivered list = %v %+v %v", list, info, err)
		}
		if _, _, err := db.OutboxMessages(ctx, "lost", mergedesk.Page{}); mergedesk.ErrorCode(err) != mergedesk.EInvalid {
			t.Errorf("unknown status filter = %v, want RecordInvalid", err)
		}
	})
}

func TestNewULID(t *testing.T) {
	a := store.NewULID(time.UnixMilli(1_700_000_000_000))
	b := store.NewULID(time.UnixMilli(1_700_000_000_001))
	if len(a) != 26 || len(b) != 26 || a >= b {
		t.Errorf("NewULID = %q, %q: want 26 characters, ordered by time", a, b)
	}
	if a[:10] != "01HF7YAT00" { // the 48-bit millisecond time in Crockford base32
		t.Errorf("time part of %q = %q", a, a[:10])
	}
}
