package mergedesk

// Event types (docs/api.md §7.1).
const (
	EventCreate         = "Create"
	EventChange         = "Change"
	EventComment        = "Comment"
	EventEmailCcChange  = "EmailCcChange"
	EventFollowerChange = "FollowerChange"
	EventNotification   = "Notification"
	EventExternal       = "External"
)
