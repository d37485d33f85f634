using System;
using System.IO;
using System.Text;
using System.Web;

namespace XmCdp.Sitecore.Browser
{
    /// <summary>
    /// Response filter that writes the browser tag right before <c>&lt;/body&gt;</c> of an HTML response, for pages
    /// whose layout does not call <see cref="BrowserTag.Html"/>. Installed at request begin (by
    /// <c>InjectBrowserTag</c>), it works on the bytes as they are written, so nothing needs to run after the
    /// response was flushed: safe where an <c>httpRequestEnd</c> processor could only append after <c>&lt;/html&gt;</c>.
    /// Only bytes that could start a split <c>&lt;/body</c> are held back, and a Flush writes them out.
    /// </summary>
    internal sealed class BrowserTagFilter : Stream
    {
        private static readonly byte[] Marker = System.Text.Encoding.ASCII.GetBytes("</body");

        private readonly Stream _inner;
        private readonly HttpContextBase _http;
        private byte[] _held = new byte[0];
        private bool _done;
        private bool? _html;

        internal BrowserTagFilter(Stream inner, HttpContextBase http)
        {
            _inner = inner;
            _http = http;
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (_done || !IsHtml())
            {
                _inner.Write(buffer, offset, count);
                return;
            }
            var data = new byte[_held.Length + count];
            Buffer.BlockCopy(_held, 0, data, 0, _held.Length);
            Buffer.BlockCopy(buffer, offset, data, _held.Length, count);
            _held = new byte[0];
            int at = Find(data);
            if (at >= 0)
            {
                _inner.Write(data, 0, at);
                var tag = BrowserTag.Render(_http);
                if (tag.Length > 0)
                {
                    var bytes = ResponseEncoding(_http).GetBytes(tag);
                    _inner.Write(bytes, 0, bytes.Length);
                }
                _inner.Write(data, at, data.Length - at);
                _done = true;
                return;
            }
            int keep = PartialAtEnd(data);
            _inner.Write(data, 0, data.Length - keep);
            if (keep > 0)
            {
                _held = new byte[keep];
                Buffer.BlockCopy(data, data.Length - keep, _held, 0, keep);
            }
        }

        private bool IsHtml()
        {
            if (!_html.HasValue)
            {
                var type = _http.Response.ContentType;
                _html = type != null && type.StartsWith("text/html", StringComparison.OrdinalIgnoreCase);
            }
            return _html.Value;
        }

        private static Encoding ResponseEncoding(HttpContextBase http)
        {
            try
            {
                return http.Response.ContentEncoding ?? System.Text.Encoding.UTF8;
            }
            catch (NotImplementedException)
            {
                return System.Text.Encoding.UTF8;
            }
        }

        private static int Find(byte[] data)
        {
            for (int i = 0; i + Marker.Length <= data.Length; i++)
                if (MatchesAt(data, i, Marker.Length)) return i;
            return -1;
        }

        // The longest suffix of data that is a prefix of "</body" (case-insensitive).
        private static int PartialAtEnd(byte[] data)
        {
            for (int len = Math.Min(Marker.Length - 1, data.Length); len > 0; len--)
                if (MatchesAt(data, data.Length - len, len)) return len;
            return 0;
        }

        private static bool MatchesAt(byte[] data, int at, int len)
        {
            for (int k = 0; k < len; k++)
            {
                int c = data[at + k];
                if (c >= 'A' && c <= 'Z') c |= 0x20;
                if (c != Marker[k]) return false;
            }
            return true;
        }

        private void WriteHeld()
        {
            if (_held.Length == 0) return;
            _inner.Write(_held, 0, _held.Length);
            _held = new byte[0];
        }

        public override void Flush()
        {
            WriteHeld();
            _inner.Flush();
        }

        public override void Close()
        {
            WriteHeld();
            _inner.Close();
            base.Close();
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get { throw new NotSupportedException(); } set { throw new NotSupportedException(); } }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
