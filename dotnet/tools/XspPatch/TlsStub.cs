// Stand-ins for the Mono.Security TLS types that Mono 6 removed and that xsp4.exe 4.2 (as shipped by Debian)
// still references from its HTTPS code (mono/xsp#88, mono/mono#18500). XspPatch points xsp4.exe's type
// references here so the server loads; plain HTTP never reaches these members and HTTPS throws.
// Test tooling only: never shipped.
using System;
using System.IO;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

[assembly: System.Reflection.AssemblyVersion("1.0.0.0")]

namespace Mono.Security.Protocol.Tls
{
    [Flags]
    public enum SecurityProtocolType
    {
        Default = -1073741824,
        Ssl2 = 12,
        Ssl3 = 48,
        Tls = 192,
        Tls11 = 768,
        Tls12 = 3072,
    }

    public delegate AsymmetricAlgorithm PrivateKeySelectionCallback(X509Certificate certificate, string targetHost);

    public delegate bool CertificateValidationCallback(X509Certificate certificate, int[] certificateErrors);

    public abstract class SslStreamBase : Stream
    {
        private static Exception NoTls() => new NotSupportedException("HTTPS is not available in this patched xsp4 (test host).");

        public int CipherStrength { get { throw NoTls(); } }
        public int KeyExchangeStrength { get { throw NoTls(); } }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length { get { throw NoTls(); } }
        public override long Position { get { throw NoTls(); } set { throw NoTls(); } }
        public override void Flush() { throw NoTls(); }
        public override int Read(byte[] buffer, int offset, int count) { throw NoTls(); }
        public override long Seek(long offset, SeekOrigin origin) { throw NoTls(); }
        public override void SetLength(long value) { throw NoTls(); }
        public override void Write(byte[] buffer, int offset, int count) { throw NoTls(); }
    }

    public class SslServerStream : SslStreamBase
    {
        public SslServerStream(Stream stream, X509Certificate serverCertificate, bool clientCertificateRequired, bool ownsStream)
        {
            throw new NotSupportedException("HTTPS is not available in this patched xsp4 (test host).");
        }

        public PrivateKeySelectionCallback PrivateKeyCertSelectionDelegate { get; set; }
        public CertificateValidationCallback ClientCertValidationDelegate { get; set; }
    }
}
