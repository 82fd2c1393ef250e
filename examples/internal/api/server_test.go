package api_test

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/examples/internal/api"
)

type putBounds struct {
	Cap   string `json:"cap"`
	Floor string `json:"floor"`
}

// bounds is a handler that echoes a decoded putBounds, as the master, the
// agent and the framework use the helpers.
func bounds(w http.ResponseWriter, r *http.Request) {
	var b putBounds
	if err := api.DecodeRequest(w, r, &b); err != nil {
		api.WriteError(w, http.StatusBadRequest, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, b)
}

func TestDecodeRequestRefusesWhatIsNotOneKnownObject(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(bounds))
	defer srv.Close()
	huge := `{"cap":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`
	tests := []struct {
		name, contentType, body string
		code                    int
		says                    string
	}{
		{"good", "application/json", `{"cap":"cpus:1"}`, 200, ""},
		{"charset is fine", "application/json; charset=utf-8", `{"cap":"cpus:1"}`, 200, ""},
		{"no content type", "", `{"cap":"cpus:1"}`, 415, "content type missing: want application/json"},
		{"form", "application/x-www-form-urlencoded", `{"cap":"cpus:1"}`, 415, `content type "application/x-www-form-urlencoded"`},
		{"unparsable content type", "application/json; charset", `{}`, 415, "content type"},
		{"unknown field", "application/json", `{"cap":"cpus:1","ceiling":"x"}`, 400, `field "ceiling": unknown field`},
		{"wrong type", "application/json", `{"cap":5}`, 400, `field "cap": want string, got JSON number`},
		{"not an object", "application/json", `[1]`, 400, "malformed JSON: want an object, got JSON array"},
		{"truncated", "application/json", `{"cap":`, 400, "malformed JSON: truncated"},
		{"syntax", "application/json", `{"cap" 1}`, 400, "malformed JSON at offset 8"},
		{"two objects", "application/json", `{}{}`, 400, "malformed JSON: data after the object ending at offset 2"},
		{"empty", "application/json", ` `, 400, "empty body: want a JSON object"},
		{"too large", "application/json", huge, 413, "request body larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPut, srv.URL, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code || resp.Header.Get("Content-Type") != api.ContentTypeJSON {
				t.Fatalf("answer %d %q %s, want %d", resp.StatusCode, resp.Header.Get("Content-Type"), data, tt.code)
			}
			if tt.says == "" {
				return
			}
			var er api.ErrorResponse
			if err := json.Unmarshal(data, &er); err != nil || !strings.Contains(er.Error, tt.says) {
				t.Fatalf("body %s does not say %q", data, tt.says)
			}
		})
	}
}

func TestDecodeStrictErrorNamesFieldAndMatchesErrInvalid(t *testing.T) {
	var v struct {
		Tasks []struct {
			CPUs float64 `json:"cpus"`
		} `json:"tasks"`
	}
	err := api.DecodeStrict([]byte(`{"tasks":[{"cpus":"two"}]}`), &v)
	var re *api.RequestError
	if !errors.As(err, &re) || re.Field != "tasks.cpus" || re.Code != http.StatusBadRequest {
		t.Fatalf("err = %#v, want a 400 RequestError naming tasks.cpus", err)
	}
	if !errors.Is(err, api.ErrInvalid) {
		t.Errorf("%v does not match api.ErrInvalid", err)
	}
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		t.Errorf("%v does not unwrap to the *json.UnmarshalTypeError", err)
	}
}

func TestWriteJSONAnswers500WhenTheValueCannotBeEncoded(t *testing.T) {
	rec := httptest.NewRecorder()
	api.WriteJSON(rec, http.StatusOK, map[string]float64{"x": math.Inf(1)})
	var er api.ErrorResponse
	if rec.Code != http.StatusInternalServerError || json.Unmarshal(rec.Body.Bytes(), &er) != nil || er.Error == "" {
		t.Fatalf("answer %d %s, want 500 with an ErrorResponse", rec.Code, rec.Body)
	}
}

func TestWriteErrorTakesARequestErrorsCode(t *testing.T) {
	rec := httptest.NewRecorder()
	api.WriteError(rec, http.StatusBadRequest, &api.RequestError{Code: http.StatusUnsupportedMediaType, Reason: "content type missing"})
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("code %d, want 415", rec.Code)
	}
	rec = httptest.NewRecorder()
	api.WriteError(rec, http.StatusNotFound, errors.New(`app "/x": not found`))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `{"error":"app \"/x\": not found"}`) {
		t.Errorf("answer %d %s", rec.Code, rec.Body)
	}
}
