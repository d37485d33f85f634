using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("XmCdp.Tests")]
