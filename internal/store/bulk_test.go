package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

func TestImportUsers(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		existing, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Ann Lee", Email: "ann@example.com",
			Phone: "+1 415 555 0100", ExternalID: ptr("crm-1")})
		if err != nil {
			t.Fatal(err)
		}
		in := []mergedesk.NewUser{
			0: {Name: "Bo Chen", Email: "Bo@Example.com", Phone: "(415) 555-0101", ExternalID: ptr("crm-2"), Tags: []string{"VIP"}},
			1: {Name: "Ann Again", Email: "ANN@example.com"},                     // existing email
			2: {Name: "Ann Phone", Phone: "4155550100"},                          // existing phone, other format
			3: {Name: "Ann Ext", ExternalID: ptr("CRM-1")},                       // existing external id
			4: {Name: "Bo Twin", Email: "bo@example.COM", Phone: "+14155550199"}, // row 0's email
			5: {Name: "Cy Phone", Phone: "+1 415 555 0199"},                      // row 4 was skipped: free
			6: {Name: "  "},                                                      // blank name
			7: {Name: "Di Bad", Email: "not an email"},                           // invalid value
			8: {Name: "Ed X", Identities: []mergedesk.NewIdentity{{Type: "twitter", Value: "@EdX"}, {Type: "email", Value: "ed@example.org"}, {Type: "email", Value: "ed2@example.org", Primary: true}}},
			9: {Name: "Fay Org", Email: "fay@example.net", OrganizationName: ptr("Initech")},
		}
		res, err := db.ImportUsers(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		codes := make([]string, len(in))
		for i, e := range res.Errors {
			if e != nil {
				for field, list := range e.(*mergedesk.Error).Details {
					codes[i] = field + ":" + list[0].Error
				}
			}
		}
		want := []string{"", "email:DuplicateValue", "phone:DuplicateValue", "external_id:DuplicateValue",
			"email:DuplicateValue", "", "name:BlankValue", "email:InvalidValue", "", ""}
		if diff := cmp.Diff(want, codes); diff != "" {
			t.Errorf("row errors (-want +got):\n%s", diff)
		}
		if res.Created != 4 || res.Skipped != 6 {
			t.Errorf("created, skipped = %d, %d; want 4, 6", res.Created, res.Skipped)
		}
		for i, id := range res.IDs {
			if (id != 0) != (codes[i] == "") {
				t.Errorf("row %d: id %d with error %q", i, id, codes[i])
			}
			if id != 0 && id <= existing.ID {
				t.Errorf("row %d: id %d not after existing %d", i, id, existing.ID)
			}
		}

		bo, err := db.User(ctx, res.IDs[0])
		if err != nil {
			t.Fatal(err)
		}
		phone, _ := mergedesk.PhoneOf(bo)
		if bo.Name != "Bo Chen" || *bo.Email() != "Bo@Example.com" || *phone != "+14155550101" ||
			*bo.ExternalID != "crm-2" || !cmp.Equal(bo.Tags, []string{"vip"}) {
			t.Errorf("imported user = %+v, email %v, phone %v", bo, *bo.Email(), *phone)
		}
		if got, err := db.UserByEmail(ctx, "bo@example.com"); err != nil || got.ID != bo.ID {
			t.Errorf("UserByEmail = %v, %v; want user %d", got, err, bo.ID)
		}
		ed, err := db.User(ctx, res.IDs[8])
		if err != nil {
			t.Fatal(err)
		}
		var prim []string
		for _, id := range ed.Identities {
			if id.Primary {
				prim = append(prim, id.Type+":"+id.Value)
			}
		}
		if diff := cmp.Diff([]string{"email:ed2@example.org", "twitter:EdX"}, prim); diff != "" {
			t.Errorf("primaries (-want +got):\n%s", diff)
		}
		fay, err := db.User(ctx, res.IDs[9])
		if err != nil || fay.DefaultOrganizationID() == nil {
			t.Fatalf("fay = %+v, %v; want an organization", fay, err)
		}

		// A second import of the same rows skips all of them and changes nothing.
		again, err := db.ImportUsers(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if again.Created != 0 {
			t.Errorf("re-import created %d users, want 0 (errors %v)", again.Created, again.Errors)
		}
		_, info, err := db.Users(ctx, mergedesk.UserFilter{}, mergedesk.Page{})
		if err != nil || info.Total != 5 {
			t.Errorf("users = %d, %v; want 5", info.Total, err)
		}
		// New users keep getting fresh ids through the normal path.
		u, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "After", Email: "after@example.com"})
		if err != nil || u.ID <= res.IDs[9] {
			t.Errorf("CreateUser after import = %v, %v; want id > %d", u, err, res.IDs[9])
		}
	})
}

func TestImportUsersLargeBatch(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 2345 // several INSERT chunks and a remainder
		in := make([]mergedesk.NewUser, n)
		for i := range in {
			in[i] = mergedesk.NewUser{Name: fmt.Sprintf("User %d", i), Email: fmt.Sprintf("u%d@example.com", i),
				Phone: fmt.Sprintf("+49 30 %08d", i)}
		}
		in[n-1].Email = "u0@example.com"
		res, err := db.ImportUsers(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != n-1 || res.Errors[n-1] == nil {
			t.Fatalf("created %d, last error %v; want %d and a duplicate", res.Created, res.Errors[n-1], n-1)
		}
		u, err := db.UserByEmail(ctx, "u1234@example.com")
		if err != nil || u.ID != res.IDs[1234] || len(u.Identities) != 2 {
			t.Fatalf("user 1234 = %+v, %v; want id %d with 2 identities", u, err, res.IDs[1234])
		}
	})
}

// TestImportUsersManyIdentities imports users with more identities than the
// statements' ratio of identity rows to user rows: identities must never be
// inserted before the users they belong to.
func TestImportUsersManyIdentities(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 700
		in := make([]mergedesk.NewUser, n)
		for i := range in {
			in[i] = mergedesk.NewUser{Name: fmt.Sprintf("User %d", i), Email: fmt.Sprintf("u%d@example.com", i)}
			for j := range 4 {
				in[i].Identities = append(in[i].Identities, mergedesk.NewIdentity{Type: mergedesk.IdentityEmail,
					Value: fmt.Sprintf("u%d.%d@example.com", i, j)})
			}
		}
		res, err := db.ImportUsers(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != n {
			t.Fatalf("created %d, want %d", res.Created, n)
		}
		u, err := db.UserByEmail(ctx, "u699.3@example.com")
		if err != nil || u.ID != res.IDs[699] || len(u.Identities) != 5 {
			t.Fatalf("user 699 = %+v, %v; want id %d with 5 identities", u, err, res.IDs[699])
		}
	})
}
