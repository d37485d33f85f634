using System;

namespace XmCdp
{
    /// <summary>
    /// The one exception type thrown by this library for a native failure. <see cref="Status"/> is the stable
    /// native status code; the message is the native last-error text of the failing call (never the API token or
    /// event contents: the native side promises not to put them there).
    /// </summary>
    [Serializable]
    public class XmCdpException : Exception
    {
        public XmCdpException(CdpStatus status, string message)
            : base(message)
        {
            Status = status;
        }

        public XmCdpException(CdpStatus status, string message, Exception inner)
            : base(message, inner)
        {
            Status = status;
        }

        protected XmCdpException(System.Runtime.Serialization.SerializationInfo info,
            System.Runtime.Serialization.StreamingContext context)
            : base(info, context)
        {
            Status = (CdpStatus)info.GetInt32("XmCdpStatus");
        }

        /// <summary>The native status code (or <see cref="CdpStatus.LibraryNotLoaded"/>).</summary>
        public CdpStatus Status { get; }

        public override void GetObjectData(System.Runtime.Serialization.SerializationInfo info,
            System.Runtime.Serialization.StreamingContext context)
        {
            base.GetObjectData(info, context);
            info.AddValue("XmCdpStatus", (int)Status);
        }
    }
}
