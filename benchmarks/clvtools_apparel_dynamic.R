# CLVTools 0.12.1 (built from source) on its apparel data: the static-covariate and the dynamic-covariate Pareto/NBD.
# The reference run of issue 20, verbatim (the lead's /tmp/peers/dyn.R). Run with CLVTools installed, e.g.
#   R_LIBS=/path/to/lib Rscript benchmarks/clvtools_apparel_dynamic.R > dyn.log
# Output lines "STATIC LL", "DYN time", "DYN LL", coefficients and standard errors; writes fd.rds and dyn_predict.csv
# to /tmp/peers/ (the paths of that run). Measured there: static fit 0.55 s, LL -5821.06270909; dynamic fit 1.49 min
# (Nelder-Mead, 1069 evaluations), LL -5752.93672023. tests/clv/test_pareto_nbd_dynamic.py uses these numbers.
suppressMessages(library(CLVTools))
data("apparelTrans"); data("apparelDynCov")
cd <- clvdata(apparelTrans, date.format="ymd", time.unit="week", estimation.split=40, name.id="Id", name.date="Date", name.price="Price")
# static reference first
data("apparelStaticCov")
cs <- SetStaticCovariates(clv.data=clvdata(apparelTrans, date.format="ymd", time.unit="week", estimation.split=104, name.id="Id", name.date="Date", name.price="Price"), data.cov.life=apparelStaticCov, data.cov.trans=apparelStaticCov, names.cov.life=c("Gender","Channel"), names.cov.trans=c("Gender","Channel"), name.id="Id")
t0 <- Sys.time(); fs <- pnbd(cs, verbose=FALSE); cat("STATIC time", format(Sys.time()-t0), "\n")
print(summary(fs)); cat("STATIC LL", sprintf("%.8f", logLik(fs)), "\n")
print(sprintf("%.10f", coef(fs)))
cdd <- SetDynamicCovariates(clv.data=clvdata(apparelTrans, date.format="ymd", time.unit="week", estimation.split=104, name.id="Id", name.date="Date", name.price="Price"), data.cov.life=apparelDynCov, data.cov.trans=apparelDynCov, names.cov.life=c("High.Season","Gender","Channel"), names.cov.trans=c("High.Season","Gender","Channel"), name.id="Id", name.date="Cov.Date")
t0 <- Sys.time(); fd <- pnbd(cdd, verbose=FALSE); cat("DYN time", format(Sys.time()-t0), "\n")
print(summary(fd)); cat("DYN LL", sprintf("%.8f", logLik(fd)), "\n")
print(sprintf("%.10f", coef(fd)))
print(sprintf("%.10f", sqrt(diag(vcov(fd)))))
saveRDS(fd, "/tmp/peers/fd.rds")
p <- predict(fd, verbose=FALSE)
write.csv(p, "/tmp/peers/dyn_predict.csv", row.names=FALSE)
