using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("XmCdp.Tests")]
[assembly: InternalsVisibleTo("XmCdp.Sitecore.Tests")]
