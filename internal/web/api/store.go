package api

import (
	"context"
	"encoding/json"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/merge"
	"github.com/mergedesk/mergedesk/internal/search"
)

// Store is the storage the API needs: every read and write a handler makes. The
// concrete implementation is internal/store's *DB, wired in by cmd/mergedesk;
// this package never imports it (docs/architecture.md).
type Store interface {
	APITokens(ctx context.Context, userID int64) ([]mergedesk.APIToken, error)
	AddIdentity(ctx context.Context, userID int64, ni mergedesk.NewIdentity, check func(*mergedesk.User) error) (*mergedesk.Identity, error)
	AllAudits(ctx context.Context, p mergedesk.Page) ([]*mergedesk.Audit, mergedesk.PageInfo, error)
	Autocomplete(ctx context.Context, prefix string, limit int) ([]*mergedesk.User, error)
	AutocompleteOrganizations(ctx context.Context, prefix string, limit int) ([]*mergedesk.Organization, error)
	// Classify maps a driver error meaning "the database is not answering" to
	// mergedesk.EUnavailable and returns other errors unchanged.
	Classify(err error) error
	CastVote(ctx context.Context, postID int64, userID int64, value int) (*mergedesk.Vote, error)
	CreateAPIToken(ctx context.Context, userID int64, description *string, value string) (*mergedesk.APIToken, error)
	CreateGroup(ctx context.Context, w mergedesk.GroupWrite) (*mergedesk.Group, error)
	CreateJob(ctx context.Context, typ string, ownerID int64, items []json.RawMessage) (*mergedesk.Job, error)
	CreateMembership(ctx context.Context, userID int64, orgID int64, makeDefault bool, check func(*mergedesk.User) error) (*mergedesk.Membership, error)
	CreateOrUpdateUser(ctx context.Context, nu mergedesk.NewUser, upd mergedesk.UserUpdate, check func(*mergedesk.User) error) (*mergedesk.User, bool, error)
	CreateOrganization(ctx context.Context, w mergedesk.OrganizationWrite) (*mergedesk.Organization, error)
	CreatePost(ctx context.Context, np mergedesk.NewPost) (*mergedesk.Post, error)
	CreatePostComment(ctx context.Context, postID int64, authorID int64, body string) (*mergedesk.PostComment, error)
	CreateTicket(ctx context.Context, in mergedesk.TicketInput, w mergedesk.TicketWriter) (*mergedesk.Ticket, *mergedesk.Audit, error)
	CreateTrigger(ctx context.Context, w mergedesk.TriggerWrite) (*mergedesk.Trigger, error)
	CreateUser(ctx context.Context, nu mergedesk.NewUser) (*mergedesk.User, error)
	CreateWebhook(ctx context.Context, w mergedesk.WebhookWrite, actorID int64) (*mergedesk.Webhook, error)
	DeleteAPIToken(ctx context.Context, userID int64, id int64) error
	DeleteGroup(ctx context.Context, id int64) error
	DeleteIdentity(ctx context.Context, userID int64, id int64, check func(*mergedesk.User) error) error
	DeleteMembership(ctx context.Context, id int64, check func(*mergedesk.User) error) error
	DeleteOrganization(ctx context.Context, id int64) error
	DeletePost(ctx context.Context, id int64) error
	DeleteTicket(ctx context.Context, id int64) error
	DeleteTrigger(ctx context.Context, id int64) error
	DeleteUser(ctx context.Context, id int64, actorID int64, check func(*mergedesk.User) error) (*mergedesk.User, error)
	DeleteWebhook(ctx context.Context, id string) error
	DeletedUser(ctx context.Context, id int64) (*mergedesk.DeletedUser, error)
	DeletedUsers(ctx context.Context, p mergedesk.Page) ([]mergedesk.DeletedUser, mergedesk.PageInfo, error)
	Group(ctx context.Context, id int64) (*mergedesk.Group, error)
	Groups(ctx context.Context, p mergedesk.Page) ([]*mergedesk.Group, mergedesk.PageInfo, error)
	GroupsByIDs(ctx context.Context, ids []int64) ([]*mergedesk.Group, error)
	Identities(ctx context.Context, userID int64, types []string) ([]mergedesk.Identity, error)
	Identity(ctx context.Context, userID int64, id int64) (*mergedesk.Identity, error)
	ImportTicket(ctx context.Context, in mergedesk.TicketInput, actorID int64, archive bool) (*mergedesk.Ticket, error)
	Job(ctx context.Context, id string) (*mergedesk.Job, error)
	Jobs(ctx context.Context, ids []string, ownerID int64) ([]*mergedesk.Job, error)
	LeaveOrganization(ctx context.Context, userID int64, orgID int64, check func(*mergedesk.User) error) error
	MakeDefaultMembership(ctx context.Context, userID int64, id int64, check func(*mergedesk.User) error) ([]mergedesk.Membership, error)
	MakeDefaultOrganization(ctx context.Context, userID int64, orgID int64, check func(*mergedesk.User) error) (*mergedesk.Membership, error)
	MakePrimary(ctx context.Context, userID int64, id int64, check func(*mergedesk.User) error) ([]mergedesk.Identity, error)
	Membership(ctx context.Context, id int64) (*mergedesk.Membership, error)
	Memberships(ctx context.Context, f mergedesk.MembershipFilter, p mergedesk.Page) ([]mergedesk.Membership, mergedesk.PageInfo, error)
	MergeUsers(ctx context.Context, sourceID int64, targetID int64, actorID int64, version string) (*mergedesk.User, *mergedesk.UserMerge, error)
	Organization(ctx context.Context, id int64) (*mergedesk.Organization, error)
	Organizations(ctx context.Context, f mergedesk.OrganizationFilter, p mergedesk.Page) ([]*mergedesk.Organization, mergedesk.PageInfo, error)
	OrganizationsByIDs(ctx context.Context, ids []int64) ([]*mergedesk.Organization, error)
	OutboxMessage(ctx context.Context, id int64) (*mergedesk.OutboxMessage, error)
	OutboxMessages(ctx context.Context, status string, p mergedesk.Page) ([]*mergedesk.OutboxMessage, mergedesk.PageInfo, error)
	PasswordPrincipal(ctx context.Context, email string, password string) (*mergedesk.Principal, error)
	Post(ctx context.Context, id int64) (*mergedesk.Post, error)
	PostComment(ctx context.Context, postID int64, id int64) (*mergedesk.PostComment, error)
	PostComments(ctx context.Context, f mergedesk.CommentFilter, p mergedesk.Page) ([]*mergedesk.PostComment, mergedesk.PageInfo, error)
	PostSubscription(ctx context.Context, postID int64, id int64) (*mergedesk.PostSubscription, error)
	PostSubscriptions(ctx context.Context, postID int64, p mergedesk.Page) ([]*mergedesk.PostSubscription, mergedesk.PageInfo, error)
	Posts(ctx context.Context, f mergedesk.PostFilter, p mergedesk.Page) ([]*mergedesk.Post, mergedesk.PageInfo, error)
	PreviewMerge(ctx context.Context, sourceID int64, targetID int64) (*merge.Plan, error)
	PrincipalByID(ctx context.Context, id int64) (*mergedesk.Principal, error)
	ReceiveMessage(ctx context.Context, m mergedesk.InboundMessage) (*mergedesk.Received, error)
	Related(ctx context.Context, id int64) (mergedesk.UserRelated, error)
	SearchAll(ctx context.Context, q search.Query, region string, kinds []string, sortBy string, sortOrder string, limit int, offset int) (hits []mergedesk.SearchHit, total int, err error)
	SearchUserPage(ctx context.Context, q search.Query, region string, sortBy string, sortOrder string, limit int, offset int) (users []*mergedesk.User, total int, err error)
	SetPassword(ctx context.Context, userID int64, pw string) error
	SetUserTags(ctx context.Context, id int64, mode string, tags []string, check func(*mergedesk.User) error) ([]string, error)
	Settings(ctx context.Context) (mergedesk.Settings, error)
	ShowManyOrganizations(ctx context.Context, ids []int64, externalIDs []string) ([]*mergedesk.Organization, error)
	ShowManyUsers(ctx context.Context, ids []int64, externalIDs []string) ([]*mergedesk.User, error)
	Subscribe(ctx context.Context, postID int64, userID int64) (*mergedesk.PostSubscription, error)
	Ticket(ctx context.Context, id int64) (*mergedesk.Ticket, error)
	TicketAudit(ctx context.Context, ticketID int64, auditID int64) (*mergedesk.Audit, error)
	TicketAuditCount(ctx context.Context, ticketID int64) (int, error)
	TicketAudits(ctx context.Context, ticketID int64, p mergedesk.Page) ([]*mergedesk.Audit, mergedesk.PageInfo, error)
	TicketComments(ctx context.Context, ticketID int64, p mergedesk.Page) ([]mergedesk.Comment, mergedesk.PageInfo, error)
	Tickets(ctx context.Context, f mergedesk.TicketFilter, p mergedesk.Page) ([]*mergedesk.Ticket, mergedesk.PageInfo, error)
	TicketsByIDs(ctx context.Context, ids []int64) ([]*mergedesk.Ticket, error)
	TokenPrincipal(ctx context.Context, token string, email string) (*mergedesk.Principal, error)
	Trigger(ctx context.Context, id int64) (*mergedesk.Trigger, error)
	Triggers(ctx context.Context, active *bool, p mergedesk.Page) ([]*mergedesk.Trigger, mergedesk.PageInfo, error)
	UpdateGroup(ctx context.Context, id int64, w mergedesk.GroupWrite) (*mergedesk.Group, error)
	UpdateIdentity(ctx context.Context, userID int64, id int64, value *string, verified *bool, method *string, check func(*mergedesk.User) error) (*mergedesk.Identity, error)
	UpdateOrganization(ctx context.Context, id int64, w mergedesk.OrganizationWrite) (*mergedesk.Organization, error)
	UpdateSettings(ctx context.Context, patch json.RawMessage) (mergedesk.Settings, error)
	UpdateTicket(ctx context.Context, id int64, in mergedesk.TicketInput, w mergedesk.TicketWriter) (*mergedesk.Ticket, *mergedesk.Audit, error)
	UpdateTrigger(ctx context.Context, id int64, w mergedesk.TriggerWrite) (*mergedesk.Trigger, error)
	UpdateUser(ctx context.Context, id int64, upd mergedesk.UserUpdate, check func(*mergedesk.User) error) (*mergedesk.User, error)
	UpdateWebhook(ctx context.Context, id string, w mergedesk.WebhookWrite, actorID int64) error
	User(ctx context.Context, id int64) (*mergedesk.User, error)
	UserByExternalID(ctx context.Context, ext string) (*mergedesk.User, error)
	UserMerge(ctx context.Context, id int64) (*mergedesk.UserMerge, error)
	UserMerges(ctx context.Context, userID *int64, p mergedesk.Page) ([]*mergedesk.UserMerge, mergedesk.PageInfo, error)
	UserTags(ctx context.Context, id int64) ([]string, error)
	Users(ctx context.Context, f mergedesk.UserFilter, p mergedesk.Page) ([]*mergedesk.User, mergedesk.PageInfo, error)
	UsersByIDs(ctx context.Context, ids []int64) ([]*mergedesk.User, error)
	Vote(ctx context.Context, id int64) (*mergedesk.Vote, error)
	Votes(ctx context.Context, postID int64, p mergedesk.Page) ([]*mergedesk.Vote, mergedesk.PageInfo, error)
	Webhook(ctx context.Context, id string) (*mergedesk.Webhook, error)
	Webhooks(ctx context.Context, p mergedesk.WebhookPage) ([]*mergedesk.Webhook, mergedesk.PageInfo, error)
}
