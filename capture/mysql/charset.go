package mysql

import (
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// charsetEncodings are the character sets whose text the binlog carries in
// bytes other than UTF-8, with the decoder that turns them into UTF-8 as the
// server itself converts them for a utf8mb4 connection (the snapshot path).
// MySQL's latin1 is Windows-1252.
var charsetEncodings = map[string]encoding.Encoding{
	"latin1":   charmap.Windows1252,
	"latin2":   charmap.ISO8859_2,
	"latin5":   charmap.ISO8859_9,
	"latin7":   charmap.ISO8859_13,
	"greek":    charmap.ISO8859_7,
	"hebrew":   charmap.ISO8859_8,
	"cp1250":   charmap.Windows1250,
	"cp1251":   charmap.Windows1251,
	"cp1256":   charmap.Windows1256,
	"cp1257":   charmap.Windows1257,
	"cp850":    charmap.CodePage850,
	"cp852":    charmap.CodePage852,
	"cp866":    charmap.CodePage866,
	"koi8r":    charmap.KOI8R,
	"koi8u":    charmap.KOI8U,
	"macroman": charmap.Macintosh,
	"tis620":   charmap.Windows874,
	"gbk":      simplifiedchinese.GBK,
	"gb2312":   simplifiedchinese.GBK,
	"big5":     traditionalchinese.Big5,
	"sjis":     japanese.ShiftJIS,
	"cp932":    japanese.ShiftJIS,
	"ujis":     japanese.EUCJP,
	"eucjpms":  japanese.EUCJP,
	"euckr":    korean.EUCKR,
	"ucs2":     unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM),
	"utf16":    unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM),
	"utf16le":  unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM),
	"utf32":    utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM),
}

// textDecoder returns the decoder of a text column's collation; nil for
// UTF-8 and ASCII (no conversion) and for the rare character sets without
// one here (swe7, dec8, hp8, keybcs2, macce, armscii8, geostd8), whose bytes
// pass through unconverted.
func textDecoder(collation uint64, known bool) *encoding.Decoder {
	if !known {
		return nil
	}
	if enc, ok := charsetEncodings[collationCharsets[collation]]; ok {
		return enc.NewDecoder()
	}
	return nil
}

// decodeText converts b from the column's character set to a UTF-8 string.
func decodeText(dec *encoding.Decoder, b []byte) (string, error) {
	out, err := dec.Bytes(b)
	return string(out), err
}
