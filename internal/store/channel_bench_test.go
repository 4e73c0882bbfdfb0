package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/bench"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/trigger"
)

// BenchmarkReceiveMessageMix receives b.N inbound messages from 8 goroutines on
// SQLite (shared transactions), with the mix of `mergedesk bench channels`:
// known senders by phone and e-mail, 10% unknown numbers captured as new
// users, and a few active triggers. It reports CPU µs per message, which the
// shared development machine disturbs less than messages per second.
func BenchmarkReceiveMessageMix(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const users = 20000
	batch := make([]mergedesk.NewUser, users)
	for i := range batch {
		batch[i] = bench.User(i)
	}
	if res, err := db.ImportUsers(ctx, batch); err != nil || res.Created != users {
		b.Fatal(err)
	}
	for _, t := range []string{
		`{"title":"Tag new SMS","conditions":{"all":[{"field":"update_type","operator":"is","value":"Create"},{"field":"via_id","operator":"is","value":"sms"}]},"actions":[{"field":"current_tags","value":"sms new_number"}]}`,
		`{"title":"Chat priority","conditions":{"all":[{"field":"update_type","operator":"is","value":"Create"},{"field":"via_id","operator":"is","value":"chat"},{"field":"priority","operator":"is","value":""}]},"actions":[{"field":"priority","value":"normal"}]}`,
		`{"title":"Chat receipt","conditions":{"all":[{"field":"update_type","operator":"is","value":"Create"},{"field":"via_id","operator":"is","value":"chat"}]},"actions":[{"field":"notification_user","value":["requester_id","[Ticket #{{ticket.id}}] {{ticket.title}}","Hello {{ticket.requester.name}}, we received your chat."]}]}`,
		`{"title":"VIP urgent","conditions":{"all":[{"field":"current_tags","operator":"includes","value":"vip platinum"}]},"actions":[{"field":"priority","value":"urgent"}]}`,
	} {
		var v struct {
			Title      string
			Conditions mergedesk.Conditions
			Actions    []mergedesk.Action
		}
		if err := json.Unmarshal([]byte(t), &v); err != nil {
			b.Fatal(err)
		}
		if _, err := db.CreateTrigger(ctx, mergedesk.TriggerWrite{Title: &v.Title, Conditions: &v.Conditions, Actions: &v.Actions}); err != nil {
			b.Fatal(err)
		}
	}
	trigger.Install(db)
	msg := func(n int) mergedesk.InboundMessage {
		i := (n * 7919) % users
		switch p := n % 20; {
		case p < 2:
			return mergedesk.InboundMessage{Channel: "sms", From: mergedesk.Contact{Type: mergedesk.IdentityPhone, Value: fmt.Sprintf("+49 40 %08d", n)},
				Body: "Hello, I am new here."}
		case p < 7:
			return mergedesk.InboundMessage{Channel: "chat", From: mergedesk.Contact{Type: mergedesk.IdentityEmail, Value: bench.Email(i)},
				Body: "Chat transcript: where is my parcel?"}
		default:
			return mergedesk.InboundMessage{Channel: "voice", From: mergedesk.Contact{Type: mergedesk.IdentityPhone, Value: bench.User(i).Phone},
				Subject: "Call", Body: "Voicemail: please call me back."}
		}
	}
	var next atomic.Int64
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for n := int(next.Add(1)); n <= b.N; n = int(next.Add(1)) {
				if _, err := db.ReceiveMessage(ctx, msg(n)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(syscall.TimevalToNsec(ru1.Utime) + syscall.TimevalToNsec(ru1.Stime) - syscall.TimevalToNsec(ru0.Utime) - syscall.TimevalToNsec(ru0.Stime))
	b.ReportMetric(float64(b.N)/el.Seconds(), "msg/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/msg")
}
