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
	"sync/atomic"
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

	lim SMTPLimits
	// inFlight is the message bytes held in memory by all conversations.
	inFlight atomic.Int64

	// ctx bounds deliveries; cancelled by Close after the grace period.
	ctx    context.Context
	cancel context.CancelFunc
}

// deliverTimeout bounds one delivery's database work.
const deliverTimeout = 30 * time.Second

// Defaults of SMTPLimits.
const (
	DefaultMaxConns         = 50
	DefaultSMTPTimeout      = 2 * time.Minute
	DefaultMaxSession       = 10 * time.Minute
	DefaultMaxBytesInFlight = 128 << 20
)

// SMTPLimits bound what inbound mail may cost; zero fields take the defaults.
// Without them a few hundred slow clients could each hold a connection and 10
// MiB of message in memory indefinitely.
type SMTPLimits struct {
	// MaxConns is the most conversations at once (--smtp-max-conns). Past it a
	// new connection is answered "421 try again later" and closed: sending
	// servers queue and retry.
	MaxConns int
	// ReadTimeout and WriteTimeout bound each command, and the whole message
	// from DATA to its final dot.
	ReadTimeout, WriteTimeout time.Duration
	// MaxSession bounds a whole conversation, however lively.
	MaxSession time.Duration
	// MaxBytesInFlight bounds the message bytes held in memory across all
	// conversations; a message that would pass it is refused with a
	// temporary 452 and sent again later by its server.
	MaxBytesInFlight int64
}

func (l SMTPLimits) withDefaults() SMTPLimits {
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = DefaultSMTPTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultSMTPTimeout
	}
	if l.MaxSession <= 0 {
		l.MaxSession = DefaultMaxSession
	}
	if l.MaxBytesInFlight <= 0 {
		l.MaxBytesInFlight = DefaultMaxBytesInFlight
	}
	return l
}

// ListenSMTP starts an SMTP listener on addr ("127.0.0.1:2525", port 0 for any)
// with the default limits.
func ListenSMTP(addr string, inbox *Inbox) (*SMTPServer, error) {
	return ListenSMTPWith(addr, inbox, SMTPLimits{})
}

// ListenSMTPWith starts an SMTP listener with limits.
func ListenSMTPWith(addr string, inbox *Inbox, lim SMTPLimits) (*SMTPServer, error) {
	lim = lim.withDefaults()
	tcp, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtp listen: %w", err)
	}
	ln := &limitListener{Listener: tcp, slots: make(chan struct{}, lim.MaxConns), maxSession: lim.MaxSession}
	s := &SMTPServer{inbox: inbox, ln: ln, done: make(chan struct{}), conns: map[*smtp.Conn]struct{}{}, lim: lim}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "mergedesk"
	// One byte over the limit: go-smtp's reader refuses a message that reaches
	// MaxMessageBytes, and mail of exactly 10 MiB is allowed (docs/api.md §13.2).
	srv.MaxMessageBytes = MaxMailBytes + 1
	srv.MaxRecipients = 100
	srv.ReadTimeout = lim.ReadTimeout
	srv.WriteTimeout = lim.WriteTimeout
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
	raw, release, err := ss.s.readMessage(r)
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			ss.s.inbox.logger().Warn("inbound mail refused", "mail_from", ss.from, "reason", se.Message)
			return se // 552 when too large
		}
		return err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ss.s.ctx, deliverTimeout)
	defer cancel()
	_, err = ss.s.inbox.Deliver(ctx, raw, ss.from, ss.rcpts)
	return smtpError(err)
}

// errBusy refuses a message while too many bytes are in flight.
var errBusy = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1},
	Message: "Insufficient system storage, try again later"}

// readMessage reads a message into memory, reserving its bytes from the
// server-wide MaxBytesInFlight as they arrive; release returns them. It grows
// one buffer as io.ReadAll does (most mail is a few KiB), reading straight
// into its spare capacity.
func (s *SMTPServer) readMessage(r io.Reader) (raw []byte, release func(), err error) {
	var held int64
	free := func() { s.inFlight.Add(-held); held = 0 }
	raw = make([]byte, 0, 4<<10)
	for {
		if len(raw) == cap(raw) {
			raw = append(raw, 0)[:len(raw)]
		}
		n, err := r.Read(raw[len(raw):cap(raw)])
		if n > 0 {
			if s.inFlight.Add(int64(n)) > s.lim.MaxBytesInFlight {
				s.inFlight.Add(-int64(n))
				free()
				s.inbox.logger().Warn("inbound mail refused: too many bytes in flight", "max_bytes", s.lim.MaxBytesInFlight)
				return nil, nil, errBusy
			}
			held += int64(n)
			raw = raw[:len(raw)+n]
		}
		if err == io.EOF {
			return raw, free, nil
		}
		if err != nil {
			free()
			return nil, nil, err
		}
	}
}

// limitListener admits at most cap(slots) connections at a time and bounds
// each one's lifetime.
type limitListener struct {
	net.Listener
	slots      chan struct{}
	maxSession time.Duration
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			lc := &limitConn{Conn: c, end: time.Now().Add(l.maxSession), release: func() { <-l.slots }}
			lc.Conn.SetDeadline(lc.end)
			return lc, nil
		default:
			go func() {
				c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(c, "421 4.3.2 Too many connections, try again later\r\n")
				c.Close()
			}()
		}
	}
}

// limitConn frees its slot when closed and never lets a deadline pass the end
// of its session: go-smtp moves the deadlines forward on every command.
type limitConn struct {
	net.Conn
	end     time.Time
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

func (c *limitConn) clamp(t time.Time) time.Time {
	if t.IsZero() || t.After(c.end) {
		return c.end
	}
	return t
}

func (c *limitConn) SetDeadline(t time.Time) error      { return c.Conn.SetDeadline(c.clamp(t)) }
func (c *limitConn) SetReadDeadline(t time.Time) error  { return c.Conn.SetReadDeadline(c.clamp(t)) }
func (c *limitConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.clamp(t)) }

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
