package channel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/identity"
)

// Inbox turns raw mail into tickets.
type Inbox struct {
	DB     Store
	Logger *slog.Logger
}

// Deliver parses raw (from envelope sender envFrom to rcpts) and records it
// through the store in one transaction. Automatic mail is dropped: the result
// is nil and so is the error. Errors: *ParseError (nothing stored),
// *mergedesk.Error from the store (nothing stored), or internal errors.
func (in *Inbox) Deliver(ctx context.Context, raw []byte, envFrom string, rcpts []string) (*mergedesk.Received, error) {
	log := in.logger()
	m, err := ParseMail(raw, envFrom, rcpts)
	if err != nil {
		log.Warn("inbound mail rejected", "reason", err.Error(), "mail_from", envFrom, "bytes", len(raw))
		return nil, err
	}
	attrs := []any{"from", m.Message.From.Value, "message_id", m.Message.MessageID}
	if m.Automatic != "" {
		log.Info("inbound mail dropped: automatic", append(attrs, "reason", m.Automatic)...)
		return nil, nil
	}
	res, err := in.DB.ReceiveMessage(ctx, m.Message)
	if err != nil {
		if mergedesk.ErrorCode(err) == mergedesk.EInternal {
			log.Error("inbound mail not stored", append(attrs, "err", err)...)
		} else {
			log.Warn("inbound mail rejected", append(attrs, "reason", err.Error())...)
		}
		return nil, err
	}
	if res.Duplicate {
		log.Info("inbound mail dropped: already received", append(attrs, "ticket_id", res.Ticket.ID)...)
		return res, nil
	}
	if res.SkippedAttachments > 0 {
		log.Warn("inbound mail: attachments skipped", append(attrs, "ticket_id", res.Ticket.ID,
			"skipped", res.SkippedAttachments, "max_bytes", mergedesk.MaxAttachmentBytes, "max_count", mergedesk.MaxAttachments)...)
	}
	// Every stored mail at Debug: at hundreds of mails a second an Info line
	// each would cost more than parsing them; refusals and drops stay above.
	log.Debug("inbound mail", append(attrs, "ticket_id", res.Ticket.ID, "ticket_created", res.TicketCreated,
		"user_id", res.User.ID, "user_created", res.UserCreated)...)
	return res, nil
}

func (in *Inbox) logger() *slog.Logger {
	if in.Logger == nil {
		return slog.Default()
	}
	return in.Logger
}

// SMTPServer is the inbound mail listener (--smtp-addr): it accepts mail for any
// recipient and delivers it to an Inbox.
type SMTPServer struct {
	inbox  *Inbox
	server *smtp.Server
	ln     net.Listener
	done   chan struct{}

	mu    sync.Mutex
	conns map[*smtp.Conn]struct{}

	// ctx bounds deliveries; cancelled by Close after the grace period.
	ctx    context.Context
	cancel context.CancelFunc
}

// deliverTimeout bounds one delivery's database work.
const deliverTimeout = 30 * time.Second

// ListenSMTP starts an SMTP listener on addr ("127.0.0.1:2525", port 0 for any).
func ListenSMTP(addr string, inbox *Inbox) (*SMTPServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtp listen: %w", err)
	}
	s := &SMTPServer{inbox: inbox, ln: ln, done: make(chan struct{}), conns: map[*smtp.Conn]struct{}{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "mergedesk"
	// One byte over the limit: go-smtp's reader refuses a message that reaches
	// MaxMessageBytes, and mail of exactly 10 MiB is allowed (api.md §13.2).
	srv.MaxMessageBytes = MaxMailBytes + 1
	srv.MaxRecipients = 100
	srv.ReadTimeout = 2 * time.Minute
	srv.WriteTimeout = 2 * time.Minute
	srv.ErrorLog = slogLogger{inbox.logger()}
	s.server = srv
	go func() {
		defer close(s.done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			inbox.logger().Error("smtp server", "err", err)
		}
	}()
	return s, nil
}

// Addr is the listening address.
func (s *SMTPServer) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting mail and waits for conversations to end (at most until
// ctx is done; then deliveries in flight are cancelled and roll back).
func (s *SMTPServer) Close(ctx context.Context) error {
	err := s.server.Shutdown(ctx)
	s.cancel()
	if err != nil {
		// go-smtp's Close does nothing after Shutdown: close what is left here.
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	}
	<-s.done
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// session is one SMTP conversation.
type session struct {
	s     *SMTPServer
	conn  *smtp.Conn
	from  string
	rcpts []string
}

func (ss *session) Reset() {
	ss.from, ss.rcpts = "", nil
}

func (ss *session) Logout() error {
	ss.s.mu.Lock()
	delete(ss.s.conns, ss.conn)
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if from != "" && !identity.ValidEmail(from) {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: "Invalid sender address"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !identity.ValidEmail(to) {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Invalid recipient address"}
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			ss.s.inbox.logger().Warn("inbound mail refused", "mail_from", ss.from, "reason", se.Message)
			return se // 552 when too large
		}
		return err
	}
	ctx, cancel := context.WithTimeout(ss.s.ctx, deliverTimeout)
	defer cancel()
	_, err = ss.s.inbox.Deliver(ctx, raw, ss.from, ss.rcpts)
	return smtpError(err)
}

// smtpError maps a delivery error to an SMTP reply: unparseable mail and
// refused senders permanently (5xx), anything else temporarily (4xx) so the
// sending server retries.
func smtpError(err error) error {
	if err == nil {
		return nil
	}
	var pe *ParseError
	if errors.As(err, &pe) {
		if pe.Sender {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: pe.Msg}
		}
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: pe.Msg}
	}
	var me *mergedesk.Error
	if errors.As(err, &me) && me.Code == mergedesk.EInvalid {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: oneLine(me.Error())}
	}
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
}

func oneLine(s string) string {
	return truncate(strings.Join(strings.Fields(s), " "), 200)
}

// slogLogger adapts slog to go-smtp's logger.
type slogLogger struct{ l *slog.Logger }

func (l slogLogger) Printf(format string, v ...any) {
	l.l.Warn("smtp", "msg", strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (l slogLogger) Println(v ...any) {
	l.l.Warn("smtp", "msg", strings.TrimSpace(fmt.Sprintln(v...)))
}
