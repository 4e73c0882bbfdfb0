package store_test

import (
	"context"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

func TestCreateUserPhoneFormatsAreOneIdentity(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Ann", Email: "Ann@Example.com", Phone: "(415) 555-0100"})
		if err != nil {
			t.Fatal(err)
		}
		if got := *u.Email(); got != "Ann@Example.com" {
			t.Errorf("email = %q, want as given", got)
		}
		for _, p := range []string{"+1 415 555 0100", "4155550100"} {
			_, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Bo", Phone: p})
			if got := mergedesk.FieldCode(err, "phone"); got != mergedesk.CodeDuplicate {
				t.Errorf("phone %q: err = %v, want phone DuplicateValue", p, err)
			}
		}
		_, err = db.CreateUser(ctx, mergedesk.NewUser{Name: "Cy", Email: "ANN@example.COM"})
		if got := mergedesk.FieldCode(err, "email"); got != mergedesk.CodeDuplicate {
			t.Errorf("email case: err = %v, want DuplicateValue", err)
		}
		// A failed create leaves nothing behind.
		us, info, err := db.Users(ctx, mergedesk.UserFilter{}, mergedesk.Page{})
		if err != nil || len(us) != 1 || info.Total != 1 {
			t.Fatalf("users = %d (total %d), %v; want 1", len(us), info.Total, err)
		}
	})
}

func TestUserWithoutEmail(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		u, err := db.CreateUser(context.Background(), mergedesk.NewUser{Name: "Caller", Phone: "+49 30 1234567"})
		if err != nil {
			t.Fatal(err)
		}
		if u.Email() != nil || u.PrimaryIdentity(mergedesk.IdentityPhone).Value != "+49301234567" {
			t.Errorf("identities = %+v", u.Identities)
		}
	})
}

func TestDeleteReleasesIdentities(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Ann", Email: "ann@example.com", ExternalID: ptr("crm-1")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.DeleteUser(ctx, u.ID, 0, nil); err != nil {
			t.Fatal(err)
		}
		got, err := db.User(ctx, u.ID)
		if err != nil || got.Active || len(got.Identities) != 0 || got.ExternalID != nil {
			t.Fatalf("deleted user = %+v, %v", got, err)
		}
		if _, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Ann 2", Email: "ann@example.com", ExternalID: ptr("CRM-1")}); err != nil {
			t.Fatalf("reuse released values: %v", err)
		}
		d, err := db.DeletedUser(ctx, u.ID)
		if err != nil || d.Email == nil || *d.Email != "ann@example.com" {
			t.Fatalf("deleted user record = %+v, %v", d, err)
		}
	})
}

func ptr[T any](v T) *T { return &v }
