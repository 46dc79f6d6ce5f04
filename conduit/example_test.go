package conduit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/auditbot/auditbot/conduit"
)

// ExampleDial dials a Conduit server (here an in-process stand-in answering
// like Phorge), asks who the token belongs to, and shows that a refused
// project edit is recognised with errors.Is.
func ExampleDial() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch strings.TrimPrefix(r.URL.Path, "/api/") {
		case "conduit.getcapabilities":
			fmt.Fprint(w, `{"result":{"authentication":["token"],"input":["json","urlencoded"],"output":["json"]},"error_code":null,"error_info":null}`)
		case "user.whoami":
			fmt.Fprint(w, `{"result":{"phid":"PHID-USER-e3p4uunjkeh2vqcbguhw","userName":"auditbot","realName":"Audit Bot","roles":["agent","admin"]},"error_code":null,"error_info":null}`)
		case "project.edit":
			fmt.Fprint(w, `{"result":null,"error_code":"ERR-CONDUIT-CORE","error_info":"[You Shall Not Pass: #wmf-nda] (Can Edit) You do not have permission to edit this object."}`)
		}
	}))
	defer srv.Close()

	ctx := context.Background()
	token := conduit.Token("api-abcdefghijklmnopqrstuvwxyz12")
	c, err := conduit.Dial(ctx, srv.URL, token, conduit.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	me, err := c.Whoami(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s admin=%v\n", me.Username, me.IsAdmin())

	_, err = c.EditProjectMembers(ctx, "PHID-PROJ-5uxxtscinxsl76gvjevn", nil, []string{"PHID-USER-h5cutsh7wurbsajcplp7"})
	fmt.Println(errors.Is(err, conduit.ErrPermissionDenied))
	// Output:
	// auditbot admin=true
	// true
}
