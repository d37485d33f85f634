namespace XmCdp
{
    /// <summary>
    /// Status codes returned by the native library (mirrors <c>xmcdp_status_t</c> in src/ffi/status.rs). The numbers are part of the C ABI: they are grouped by tens
    /// and never renumbered, so a log line or a support ticket that quotes a number stays meaningful across versions.
    /// </summary>
    public enum CdpStatus
    {
        /// <summary>Managed-only: the native library could not be loaded (never returned by native code).</summary>
        LibraryNotLoaded = -1,

        Ok = 0,

        NullPointer = 10,
        InvalidUtf8 = 11,
        InvalidArgument = 12,
        BufferTooSmall = 13,
        TooLarge = 14,
        InvalidHandle = 15,

        InvalidJson = 20,
        UnknownKey = 21,
        MissingSetting = 22,
        InvalidSetting = 23,
        InvalidUrl = 24,

        InvalidEmail = 30,
        InvalidDate = 31,
        TooManyExtAttributes = 32,
        InvalidExt = 33,
        MissingIdentifiers = 34,
        MissingPointOfSale = 35,
        InvalidEventType = 36,
        InvalidBrowserId = 37,
        InvalidField = 38,
        MissingFriendlyId = 39,

        QueueFull = 40,
        ShutDown = 41,
        NoRecord = 42,
        ShutdownIncomplete = 43,

        Timeout = 50,
        CircuitOpen = 51,
        FlowNotFound = 52,
        DecisionFailed = 53,
        TicketUnknown = 54,

        HttpError = 60,
        Unauthorized = 61,
        NotFound = 62,
        ServerError = 63,
        UnexpectedStatus = 64,
        ConnectFailed = 65,

        Panic = 90,
        Internal = 91,
        VersionMismatch = 92,
    }

    /// <summary>Which group of the native numbering a status belongs to (the tens digit).</summary>
    public enum CdpStatusGroup
    {
        Ok,
        Argument,
        Configuration,
        EventValidation,
        Queue,
        Decision,
        Http,
        Fatal,
        Managed,
        Unknown,
    }

    public static class CdpStatusExtensions
    {
        public static CdpStatusGroup Group(this CdpStatus status)
        {
            int code = (int)status;
            if (code < 0) return CdpStatusGroup.Managed;
            switch (code / 10)
            {
                case 0: return code == 0 ? CdpStatusGroup.Ok : CdpStatusGroup.Unknown;
                case 1: return CdpStatusGroup.Argument;
                case 2: return CdpStatusGroup.Configuration;
                case 3: return CdpStatusGroup.EventValidation;
                case 4: return CdpStatusGroup.Queue;
                case 5: return CdpStatusGroup.Decision;
                case 6: return CdpStatusGroup.Http;
                case 9: return CdpStatusGroup.Fatal;
                default: return CdpStatusGroup.Unknown;
            }
        }
    }
}
