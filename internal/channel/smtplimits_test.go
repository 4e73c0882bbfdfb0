package channel_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk/internal/channel"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// listenLimited starts an SMTP listener with limits on a fresh SQLite database.
func listenLimited(t *testing.T, lim channel.SMTPLimits) string {
	t.Helper()
	db := storetest.MustOpen(t, "sqlite:"+t.TempDir()+"/mail.db")
	srv, err := channel.ListenSMTPWith("127.0.0.1:0", &channel.Inbox{DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, lim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	return srv.Addr().String()
}

// greet connects and returns the connection and the server's greeting line.
func greet(t *testing.T, addr string) (net.Conn, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("greeting: %v", err)
	}
	c.SetReadDeadline(time.Time{})
	return c, line
}

// TestSMTPMaxConns: past MaxConns conversations, a new connection is told 421
// (try again later) and closed; a freed slot takes the next one.
func TestSMTPMaxConns(t *testing.T) {
	addr := listenLimited(t, channel.SMTPLimits{MaxConns: 2})
	a, g := greet(t, addr)
	if !strings.HasPrefix(g, "220") {
		t.Fatalf("first greeting %q, want 220", g)
	}
	if _, g := greet(t, addr); !strings.HasPrefix(g, "220") {
		t.Fatalf("second greeting %q, want 220", g)
	}
	third, g := greet(t, addr)
	if !strings.HasPrefix(g, "421") {
		t.Fatalf("third connection: greeting %q, want 421", g)
	}
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := third.Read(make([]byte, 1)); err == nil {
		t.Error("third connection still open after 421")
	}
	a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, g := greet(t, addr)
		if strings.HasPrefix(g, "220") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after one conversation ended: greeting %q, want 220", g)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSMTPSlowClient: a client that stops talking is cut off after
// ReadTimeout, and one that keeps a conversation alive with NOOPs is cut off
// after MaxSession.
func TestSMTPSlowClient(t *testing.T) {
	t.Run("Silent", func(t *testing.T) {
		addr := listenLimited(t, channel.SMTPLimits{ReadTimeout: 200 * time.Millisecond})
		c, _ := greet(t, addr)
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c) // until the server hangs up
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("silent client kept for %v, want cut off after about 200ms", took)
		}
	})
	t.Run("Drip", func(t *testing.T) {
		addr := listenLimited(t, channel.SMTPLimits{ReadTimeout: 2 * time.Second, MaxSession: 300 * time.Millisecond})
		c, _ := greet(t, addr)
		start := time.Now()
		tp := textproto.NewConn(c)
		for time.Since(start) < 5*time.Second {
			if err := tp.PrintfLine("NOOP"); err != nil {
				break
			}
			if _, _, err := tp.ReadResponse(250); err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("NOOP every 50ms kept the conversation for %v, want cut off after about 300ms", took)
		}
	})
}

// TestSMTPBytesInFlight: messages held in memory across conversations are
// bounded; past the bound a message is refused with a temporary 452 and can
// be sent again later.
func TestSMTPBytesInFlight(t *testing.T) {
	addr := listenLimited(t, channel.SMTPLimits{MaxBytesInFlight: 1 << 20})
	head := "From: ann@example.com\r\nTo: help@example.com\r\nSubject: big\r\n\r\n"
	line := strings.Repeat("x", 998) + "\r\n"
	body := strings.Repeat(line, (700<<10)/len(line))

	// A holds 700 KiB of the 1 MiB without finishing its message.
	a, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Mail("ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := a.Rcpt("help@example.com"); err != nil {
		t.Fatal(err)
	}
	wa, err := a.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(wa, head+body)
	time.Sleep(200 * time.Millisecond) // let the server read it

	send := func() error {
		b, err := smtp.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if err := b.Mail("bob@example.com"); err != nil {
			return err
		}
		if err := b.Rcpt("help@example.com"); err != nil {
			return err
		}
		wb, err := b.Data()
		if err != nil {
			return err
		}
		io.WriteString(wb, strings.Replace(head, "ann@", "bob@", 1)+body)
		return wb.Close()
	}
	err = send()
	var pe *textproto.Error
	if !errors.As(err, &pe) || pe.Code != 452 {
		t.Fatalf("second 700 KiB message while the first is in flight: %v, want 452", err)
	}
	if err := wa.Close(); err != nil {
		t.Fatalf("first message: %v", err)
	}
	if err := send(); err != nil {
		t.Fatalf("second message after the first was delivered: %v", err)
	}
}
