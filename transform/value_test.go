package transform

import (
	"encoding/json"
	"testing"
)

func TestRowAppendJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		row     Row
		want    string
		wantErr string
	}{
		{"nil is null", nil, `null`, ""},
		{"empty is object", Row{}, `{}`, ""},
		{"keeps column order", Row{{"z", int64(1)}, {"a", nil}, {"m", ""}}, `{"z":1,"a":null,"m":""}`, ""},
		{"escapes names", Row{{`we"ird name`, true}}, `{"we\"ird name":true}`, ""},
		{"error names column and type", Row{{"id", int64(1)}, {"price", 1.5}, {"at", struct{}{}}}, "", `column "at": unsupported value type struct {}`},
		{"error on bad name", Row{{"\xff", nil}}, "", "column name 0: string at byte 0: invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.row.AppendJSON(nil)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("AppendJSON = %s, %v; want %s", got, err, tt.want)
			}
			viaMarshal, err := json.Marshal(tt.row)
			if err != nil || string(viaMarshal) != tt.want {
				t.Errorf("json.Marshal = %s, %v; want %s", viaMarshal, err, tt.want)
			}
		})
	}
}
