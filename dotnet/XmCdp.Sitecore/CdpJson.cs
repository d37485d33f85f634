using System;
using System.Collections.Generic;
using System.Web.Script.Serialization;

namespace XmCdp.Sitecore
{
    /// <summary>
    /// Reads small JSON objects (submit action parameters, decision answers, Guest REST answers). One shared
    /// serializer: constructing one reads configuration each time, and Deserialize keeps no state between calls.
    /// </summary>
    internal static class CdpJson
    {
        private static readonly JavaScriptSerializer Serializer = new JavaScriptSerializer { MaxJsonLength = 1024 * 1024 };

        /// <summary>The JSON object, or null when the text is not one (never throws for bad input).</summary>
        internal static Dictionary<string, object> Object(string json)
        {
            if (string.IsNullOrEmpty(json) || json.Length > 1024 * 1024) return null;
            try
            {
                return Serializer.Deserialize<Dictionary<string, object>>(json);
            }
            catch (ArgumentException)
            {
                return null;
            }
            catch (InvalidOperationException)
            {
                return null;
            }
        }
    }
}
