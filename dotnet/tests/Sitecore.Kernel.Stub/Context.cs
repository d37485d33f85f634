using System;
using System.Collections;
using System.Collections.Specialized;
using System.Globalization;
using System.Web;

namespace Sitecore.Data
{
    public class ID
    {
        private readonly Guid _guid;

        public ID(Guid guid)
        {
            _guid = guid;
        }

        public Guid Guid => _guid;

        public override string ToString() => _guid.ToString("B").ToUpperInvariant();
    }
}

namespace Sitecore.Data
{
    public class Database
    {
        private Database(string name)
        {
            Name = name;
        }

        public string Name { get; private set; }

        public static Database GetDatabase(string name) => new Database(name);

        /// <summary>An item by path or ID string; null when there is none (the stand-in has one content tree).</summary>
        public Sitecore.Data.Items.Item GetItem(string path) => Sitecore.Pipelines.HttpRequest.StubContent.FindByPathOrId(path);
    }
}

namespace Sitecore.Data.Items
{
    public class ItemPath
    {
        internal ItemPath(string fullPath)
        {
            FullPath = fullPath;
        }

        public string FullPath { get; private set; }
    }

    public class Item
    {
        // stub-only constructor: real items come from a database.
        public Item(Sitecore.Data.ID id, string name, string fullPath)
        {
            ID = id;
            Name = name;
            Paths = new ItemPath(fullPath);
        }

        public Sitecore.Data.ID ID { get; private set; }
        public string Name { get; private set; }
        public ItemPath Paths { get; private set; }

        private readonly System.Collections.Generic.Dictionary<string, string> _fields =
            new System.Collections.Generic.Dictionary<string, string>(System.StringComparer.OrdinalIgnoreCase);

        /// <summary>A field's raw value by name; empty when the item has no value (as the real indexer).</summary>
        // An indexer is named "Item" in IL unless renamed, which a class named Item cannot have.
        [System.Runtime.CompilerServices.IndexerName("FieldValue")]
        public string this[string fieldName]
        {
            get
            {
                string v;
                return _fields.TryGetValue(fieldName, out v) ? v : string.Empty;
            }
            set { _fields[fieldName] = value; }
        }
    }
}

namespace Sitecore.Sites
{
    public class SiteContext
    {
        // stub-only constructor: real site contexts come from the site manager.
        public SiteContext(string name)
        {
            Name = name;
            Properties = new StringDictionary();
        }

        public string Name { get; private set; }
        public StringDictionary Properties { get; private set; }
    }
}

namespace Sitecore.Globalization
{
    public class Language
    {
        private Language(string name)
        {
            Name = name;
            CultureInfo = CultureInfo.GetCultureInfo(name);
        }

        public string Name { get; private set; }
        public CultureInfo CultureInfo { get; private set; }

        public static Language Parse(string name) => new Language(name);

        public override string ToString() => Name;
    }
}

namespace Sitecore.Security
{
    public class UserProfile
    {
        public string Email { get; set; }
    }
}

namespace Sitecore.Security.Accounts
{
    public class User
    {
        // stub-only constructor.
        public User(string name, bool isAuthenticated)
        {
            Name = name;
            IsAuthenticated = isAuthenticated;
            _profile = new Sitecore.Security.UserProfile();
        }

        private readonly Sitecore.Security.UserProfile _profile;

        public string Name { get; private set; }
        public bool IsAuthenticated { get; private set; }

        /// <summary>stub-only rule: <c>sitecore\admin</c> is the administrator (on the host: the user's IsAdministrator flag).</summary>
        public bool IsAdministrator => IsAuthenticated && string.Equals(Name, "sitecore\\admin", System.StringComparison.OrdinalIgnoreCase);

        /// <summary>stub-only: no roles besides the administrator flag.</summary>
        public bool IsInRole(string role) => false;

        /// <summary>The real one loads the profile from the membership provider: not free on every page.</summary>
        public Sitecore.Security.UserProfile Profile
        {
            get
            {
                ProfileReads++;
                return _profile;
            }
        }

        // stub-only: how often Profile was read.
        public int ProfileReads { get; set; }
    }
}

namespace Sitecore
{
    /// <summary>Per-request context, kept in HttpContext.Items when hosted and per thread otherwise (unit tests).</summary>
    public static class Context
    {
        [ThreadStatic] private static Hashtable t_state;

        private static IDictionary State
        {
            get
            {
                var http = HttpContext.Current;
                if (http != null) return http.Items;
                return t_state ?? (t_state = new Hashtable());
            }
        }

        public static Sitecore.Data.Items.Item Item
        {
            get { return (Sitecore.Data.Items.Item)State["sc.item"]; }
            set { State["sc.item"] = value; }
        }

        public static Sitecore.Data.Database Database
        {
            get { return (Sitecore.Data.Database)State["sc.database"]; }
            set { State["sc.database"] = value; }
        }

        public static Sitecore.Sites.SiteContext Site
        {
            get { return (Sitecore.Sites.SiteContext)State["sc.site"]; }
            set { State["sc.site"] = value; }
        }

        public static Sitecore.Globalization.Language Language
        {
            get { return (Sitecore.Globalization.Language)State["sc.language"]; }
            set { State["sc.language"] = value; }
        }

        public static Sitecore.Security.Accounts.User User
        {
            get { return (Sitecore.Security.Accounts.User)State["sc.user"] ?? Anonymous; }
        }

        private static readonly Sitecore.Security.Accounts.User Anonymous =
            new Sitecore.Security.Accounts.User("extranet\\Anonymous", false);

        // stub-only: Sitecore's UserResolver sets the user from the authentication ticket.
        public static void SetUser(Sitecore.Security.Accounts.User user)
        {
            State["sc.user"] = user;
        }

        // stub-only: values for Context.PageMode.
        public enum StubPageMode { Normal, ExperienceEditor, Preview, Debugging }

        // stub-only
        public static void SetPageMode(StubPageMode mode)
        {
            State["sc.pagemode"] = mode;
        }

        // stub-only: forget everything (unit tests run on one thread).
        public static void Reset()
        {
            if (HttpContext.Current == null) t_state = null;
        }

        private static StubPageMode Mode => State["sc.pagemode"] is StubPageMode ? (StubPageMode)State["sc.pagemode"] : StubPageMode.Normal;

        public static class PageMode
        {
            public static bool IsNormal => Mode == StubPageMode.Normal;
            public static bool IsExperienceEditor => Mode == StubPageMode.ExperienceEditor;
            public static bool IsExperienceEditorEditing => Mode == StubPageMode.ExperienceEditor;
            public static bool IsPreview => Mode == StubPageMode.Preview;
            public static bool IsDebugging => Mode == StubPageMode.Debugging;
        }
    }
}
