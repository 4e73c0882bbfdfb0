package mergedesk

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Post is a community post with its computed counters.
type Post struct {
	ID            int64
	Title         string
	Details       string
	AuthorID      int64
	TopicID       *int64
	Status        string
	Pinned        bool
	Featured      bool
	Closed        bool
	VoteSum       int64
	VoteCount     int64
	CommentCount  int64
	FollowerCount int64
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// PostComment is a comment on a post.
type PostComment struct {
	ID        int64
	PostID    int64
	AuthorID  int64
	Body      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Vote is one user's vote on a post: Value is 1 or -1.
type Vote struct {
	ID        int64
	PostID    int64
	UserID    int64
	Value     int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PostSubscription is a user following a post.
type PostSubscription struct {
	ID        int64
	PostID    int64
	UserID    int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewPost describes a post to create.
type NewPost struct {
	Title    string
	Details  string
	AuthorID int64
	TopicID  *int64
	// Status is one of PostStatuses; empty means "none".
	Status                   string
	Pinned, Featured, Closed bool
}

// PostStatuses are the statuses Zendesk gives community posts.
var PostStatuses = []string{"none", "planned", "not_planned", "completed", "answered"}

// MaxTitleLen bounds post titles.
const MaxTitleLen = 255

// PostFilter selects posts in lists; the zero value selects all.
type PostFilter struct {
	AuthorID *int64
}

// CommentFilter selects post comments; the zero value selects all.
type CommentFilter struct {
	PostID   *int64
	AuthorID *int64
}

// Normalize trims np's title, defaults its status to "none" and checks both.
// Errors: RecordInvalid (title BlankValue or TooLong; status InvalidValue).
func (np *NewPost) Normalize() error {
	np.Title = strings.TrimSpace(np.Title)
	if np.Title == "" {
		return Invalid("title", CodeBlank, "Title: cannot be blank")
	}
	if utf8.RuneCountInString(np.Title) > MaxTitleLen {
		return Invalid("title", CodeTooLong, "Title: is too long (maximum is %d characters)", MaxTitleLen)
	}
	if np.Status == "" {
		np.Status = "none"
	}
	if !slices.Contains(PostStatuses, np.Status) {
		return Invalid("status", CodeInvalid, "Status: %q is not one of %s", np.Status, strings.Join(PostStatuses, ", "))
	}
	return nil
}
